// The HTTP API (src/Gateway/Api): elections, polling units, submissions. Reads only; the form posts.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.retryAfterMs = null;
  }
}

async function getJson(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

const elections = new Map();
let electionList = null;

export function listElections() {
  electionList ??= getJson('/api/v1/elections').catch(e => { electionList = null; throw e; });
  return electionList;
}

export function getElection(id) {
  if (!elections.has(id)) {
    elections.set(id, getJson(`/api/v1/elections/${encodeURIComponent(id)}`).catch(e => { elections.delete(id); throw e; }));
  }
  return elections.get(id);
}

export function getPollingUnit(electionId, code) {
  return getJson(`/api/v1/elections/${encodeURIComponent(electionId)}/polling-units/${encodePath(code)}`);
}

/** Posts a sheet. Resolves {status, receipt} or throws ApiError (4xx/5xx) or TypeError (network). */
export async function submitSheet(electionId, token, sheet) {
  const res = await fetch(`/api/v1/elections/${encodeURIComponent(electionId)}/submissions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(sheet),
  });
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const error = new ApiError(res.status, body);
    const after = Number(res.headers.get('retry-after'));
    if (Number.isFinite(after) && after > 0) error.retryAfterMs = after * 1000;
    throw error;
  }
  return { status: res.status, receipt: body };
}

export function encodePath(code) { return code.split('/').map(encodeURIComponent).join('/'); }
