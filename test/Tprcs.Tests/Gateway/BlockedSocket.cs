using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Tprcs.Tests.Gateway;

/// <summary>A WebSocket whose sends do not complete until released: a client that stopped reading.</summary>
public sealed class BlockedSocket : WebSocket
{
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<JsonObject> _sent = [];
    private WebSocketState _state = WebSocketState.Open;
    private WebSocketCloseStatus? _closeStatus;

    public void Release() => _released.TrySetResult();

    public IReadOnlyList<JsonObject> Sent
    {
        get
        {
            lock (_sent)
            {
                return _sent.ToList();
            }
        }
    }

    public override WebSocketCloseStatus? CloseStatus => _closeStatus;
    public override string? CloseStatusDescription => null;
    public override WebSocketState State => _state;
    public override string? SubProtocol => "tprcs.v1";

    public override async Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken)
    {
        await _released.Task.WaitAsync(cancellationToken);
        lock (_sent)
        {
            _sent.Add(JsonNode.Parse(Encoding.UTF8.GetString(buffer))!.AsObject());
        }
    }

    public override Task CloseOutputAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
    {
        _closeStatus = closeStatus;
        _state = WebSocketState.CloseSent;
        return Task.CompletedTask;
    }

    public override Task CloseAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken) =>
        CloseOutputAsync(closeStatus, statusDescription, cancellationToken);

    public override Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken cancellationToken) =>
        Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => new WebSocketReceiveResult(0, WebSocketMessageType.Close, true), TaskScheduler.Default);

    public override void Abort() => _state = WebSocketState.Aborted;

    public override void Dispose() => _state = WebSocketState.Closed;
}
