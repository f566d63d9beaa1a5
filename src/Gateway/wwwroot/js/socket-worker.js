// Entry point of the socket worker. As a SharedWorker it serves every tab of the origin over one
// WebSocket; as a dedicated Worker it serves its one page. See socket-core.js.
import { SocketCore } from './socket-core.js';

const core = new SocketCore();

if (typeof SharedWorkerGlobalScope !== 'undefined' && self instanceof SharedWorkerGlobalScope) {
  self.onconnect = e => core.addPort(e.ports[0]);
} else {
  core.addPort(self);
}
