using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Tprcs.Load;

/// <summary>
/// Linux epoll, level-triggered, for the lean clients of the fan-out: one thread waits for every
/// client socket of its share and reads each one that has data with one <c>recv</c>. .NET's own
/// socket engine would cost each delivery a readiness event, a thread-pool hop, a continuation and a
/// second <c>recv</c>; the clients share the 2 cores with the servers they measure, so the cheaper
/// they are the less they disturb the figures.
/// </summary>
internal static partial class Epoll
{
    private const int EpollCtlAdd = 1;
    private const int EpollCtlDel = 2;
    private const int EpollCtlMod = 3;
    public const uint In = 0x001;
    public const uint Out = 0x004;
    public const uint RdHup = 0x2000;
    private const int MsgDontWait = 0x40;
    private const int EAgain = 11;
    private const int EIntr = 4;
    private const int EInProgress = 115;

    // struct epoll_event is packed on x86-64 (12 bytes), naturally aligned elsewhere (16 bytes).
    public static readonly int EventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    private static readonly int DataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int Create1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int Ctl(int epfd, int op, int fd, [In] byte[] ev);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int Wait(int epfd, [Out] byte[] events, int maxEvents, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static partial nint Recv(int fd, ref byte buffer, nint length, int flags);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "connect", SetLastError = true)]
    private static partial int Connect(int fd, [In] byte[] address, int length);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static partial nint Send(int fd, ref byte buffer, nint length, int flags);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static partial int SetSockOpt(int fd, int level, int name, ref int value, int length);

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static partial int GetSockOpt(int fd, int level, int name, ref int value, ref int length);

    private const int AfInet = 2;
    private const int SockStream = 1;
    private const int SockNonBlock = 0x800;
    private const int IpProtoTcp = 6;
    private const int TcpNoDelay = 1;
    private const int SolSocket = 1;
    private const int SoError = 4;
    private const int MsgNoSignal = 0x4000;

    /// <summary>
    /// A non-blocking TCP socket connecting to 127.0.0.1:<paramref name="port"/>: the connect is under
    /// way (or done) when this returns; epoll says writable once it has finished. -1 when refused at once.
    /// </summary>
    public static int StartConnect(int port)
    {
        var fd = Socket(AfInet, SockStream | SockNonBlock, 0);
        if (fd < 0)
        {
            throw new SocketException(Marshal.GetLastPInvokeError());
        }

        var one = 1;
        SetSockOpt(fd, IpProtoTcp, TcpNoDelay, ref one, sizeof(int));
        // struct sockaddr_in: family (host order), port (network order), 127.0.0.1, zero padding.
        var address = new byte[16];
        BitConverter.TryWriteBytes(address.AsSpan(0, 2), (ushort)AfInet);
        address[2] = (byte)(port >> 8);
        address[3] = (byte)port;
        (address[4], address[5], address[6], address[7]) = (127, 0, 0, 1);
        if (Connect(fd, address, address.Length) != 0 && Marshal.GetLastPInvokeError() != EInProgress)
        {
            Close(fd);
            return -1;
        }

        return fd;
    }

    /// <summary>0 when the socket's connect succeeded, else the error (ECONNREFUSED...).</summary>
    public static int PendingError(int fd)
    {
        var error = 0;
        var length = sizeof(int);
        return GetSockOpt(fd, SolSocket, SoError, ref error, ref length) == 0 ? error : Marshal.GetLastPInvokeError();
    }

    /// <summary>Sends what the socket takes at once (client frames here are tiny); false when the connection is broken.</summary>
    public static bool SendAll(int fd, ReadOnlySpan<byte> data)
    {
        while (data.Length > 0)
        {
            var n = Send(fd, ref MemoryMarshal.GetReference(data), data.Length, MsgDontWait | MsgNoSignal);
            if (n < 0)
            {
                var error = Marshal.GetLastPInvokeError();
                if (error == EIntr)
                {
                    continue;
                }

                return error == EAgain;
            }

            data = data[(int)n..];
        }

        return true;
    }


    public static int Create()
    {
        var fd = Create1(0);
        return fd >= 0 ? fd : throw new SocketException(Marshal.GetLastPInvokeError());
    }

    public static void Add(int epfd, int fd, uint events, ulong data)
    {
        if (Ctl(epfd, EpollCtlAdd, fd, Event(events, data)) != 0)
        {
            throw new SocketException(Marshal.GetLastPInvokeError());
        }
    }

    public static void Modify(int epfd, int fd, uint events, ulong data) => Ctl(epfd, EpollCtlMod, fd, Event(events, data));

    // A struct epoll_event: the events, then the caller's 64 bits at this architecture's offset.
    private static byte[] Event(uint events, ulong data)
    {
        var ev = new byte[16];
        BitConverter.TryWriteBytes(ev.AsSpan(0, 4), events);
        BitConverter.TryWriteBytes(ev.AsSpan(DataOffset, 8), data);
        return ev;
    }

    public static void Remove(int epfd, int fd) => Ctl(epfd, EpollCtlDel, fd, new byte[16]);

    /// <summary>Ready events into <paramref name="events"/> (a buffer of <see cref="EventSize"/>-byte slots); 0 on timeout or interruption.</summary>
    public static int WaitFor(int epfd, byte[] events, int timeoutMs)
    {
        var n = Wait(epfd, events, events.Length / EventSize, timeoutMs);
        if (n < 0)
        {
            var error = Marshal.GetLastPInvokeError();
            return error == EIntr ? 0 : throw new SocketException(error);
        }

        return n;
    }

    public static (uint Events, ulong Data) EventAt(byte[] events, int i) =>
        (BitConverter.ToUInt32(events, i * EventSize), BitConverter.ToUInt64(events, (i * EventSize) + DataOffset));

    /// <summary>One non-blocking read that never throws: bytes read, 0 at the end of the stream, -1 when nothing is there (EAGAIN), -2 on an error (reset...).</summary>
    public static int TryReceive(int fd, Span<byte> into)
    {
        while (true)
        {
            var n = Recv(fd, ref MemoryMarshal.GetReference(into), into.Length, MsgDontWait);
            if (n >= 0)
            {
                return (int)n;
            }

            var error = Marshal.GetLastPInvokeError();
            if (error != EIntr)
            {
                return error == EAgain ? -1 : -2;
            }
        }
    }

    public static void CloseFd(int fd) => Close(fd);
}

/// <summary>
/// One thread and one epoll set serving a share of the lean clients: every ready socket is read once
/// per wake-up into a shared buffer (a client keeps only what a partial frame left over).
/// </summary>
public sealed class EpollLoop : IDisposable
{
    private readonly int _epfd = Epoll.Create();
    private readonly Lock _gate = new();
    private readonly List<RawClient?> _clients = [];
    private readonly Thread _thread;
    private volatile bool _stopping;

    public EpollLoop(string name)
    {
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    public void Add(RawClient client)
    {
        int id;
        lock (_gate)
        {
            id = _clients.Count;
            _clients.Add(client);
        }

        Epoll.Add(_epfd, client.Fd, Epoll.In | Epoll.RdHup, (ulong)id);
    }

    private void Run()
    {
        var events = new byte[512 * Epoll.EventSize];
        var buffer = new byte[64 * 1024];
        while (!_stopping)
        {
            var n = Epoll.WaitFor(_epfd, events, 200);
            for (var i = 0; i < n; i++)
            {
                var (_, data) = Epoll.EventAt(events, i);
                RawClient? client;
                lock (_gate)
                {
                    client = _clients[(int)data];
                }

                if (client is null)
                {
                    continue;
                }

                // A hang-up or an error is read as the end of the stream (or a failed recv).
                if (!client.OnReadable(buffer))
                {
                    Epoll.Remove(_epfd, client.Fd);
                    lock (_gate)
                    {
                        _clients[(int)data] = null;
                    }

                    client.MarkClosed();
                }
            }
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _thread.Join(TimeSpan.FromSeconds(2));
        Epoll.CloseFd(_epfd);
    }
}
