import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import TCPKeepCore

/// What the endpoint serves: the metrics text, made when asked, and whether the agent is ready.
public protocol MetricsSource: Sendable {
    /// The Prometheus text exposition; runs off the event loop, one call at a time.
    func renderMetrics() -> String
    var isReady: Bool { get }
}

/// The limits that keep the endpoint from costing the host: it is read-only, and each of these
/// bounds one way a client could hold resources.
public struct MetricsServerLimits: Sendable {
    /// Connections served at once; one more is closed as soon as it is accepted.
    public var connections = 256
    /// Bytes a request may take before its response (request line and headers included).
    public var requestBytes = 16 * 1024
    /// Seconds a connection may stay silent (between requests, or within one).
    public var idleSeconds: Int64 = 10

    public init() {}
}

/// `/metrics` and `/healthz` over HTTP/1.1, with SwiftNIO. Concurrent scrapes share one render:
/// a scrape that arrives while one is being made gets that one.
public final class MetricsServer: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channel: Channel
    public let address: ListenAddress

    public init(listen: ListenAddress, source: MetricsSource, limits: MetricsServerLimits = MetricsServerLimits()) throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let renderer = SharedRender(source: source)
        let open = NIOLockedValueBox(0)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let admitted = open.withLockedValue { count in
                    guard count < limits.connections else { return false }
                    count += 1
                    return true
                }
                guard admitted else { return channel.close() }
                channel.closeFuture.whenComplete { _ in open.withLockedValue { $0 -= 1 } }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(RequestSizeLimit(limit: limits.requestBytes))
                    try sync.addHandler(IdleStateHandler(readTimeout: .seconds(limits.idleSeconds)))
                    try sync.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
                    try sync.addHandler(MetricsHandler(renderer: renderer))
                }
            }
        do {
            channel = try bootstrap.bind(host: listen.host, port: listen.port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw SystemError("cannot listen on \(listen)", code: (error as? IOError)?.errnoCode ?? EINVAL)
        }
        let port = channel.localAddress?.port ?? listen.port
        address = ListenAddress(host: listen.host, port: port)
        self.group = group
    }

    public func stop() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

/// One render at a time, on a thread of its own; the requests that wait for it share it.
private final class SharedRender: Sendable {
    private let source: MetricsSource
    private let pool: NIOThreadPool
    private let waiting = NIOLockedValueBox<[EventLoopPromise<String>]?>(nil)

    init(source: MetricsSource) {
        self.source = source
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    var isReady: Bool { source.isReady }

    func metrics(on eventLoop: EventLoop) -> EventLoopFuture<String> {
        let promise = eventLoop.makePromise(of: String.self)
        let first = waiting.withLockedValue { waiting in
            if waiting == nil {
                waiting = [promise]
                return true
            }
            waiting!.append(promise)
            return false
        }
        if first {
            pool.submit { [self] _ in
                let text = source.renderMetrics()
                let promises = waiting.withLockedValue { waiting in
                    defer { waiting = nil }
                    return waiting ?? []
                }
                for promise in promises { promise.succeed(text) }
            }
        }
        return promise.futureResult
    }
}

/// Closes a connection whose request grows past the limit before its response is written, with
/// a 431 that needs no parsing of what was sent. First in the pipeline: it sees raw bytes in, and
/// every response out (which starts the count again).
private final class RequestSizeLimit: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let limit: Int
    private var received = 0
    private var refused = false

    init(limit: Int) { self.limit = limit }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        received += unwrapInboundIn(data).readableBytes
        guard received <= limit else {
            refused = true
            let text = "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(string: text))).whenComplete { _ in
                channel.close(promise: nil)
            }
            return
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        received = 0
        context.write(data, promise: promise)
    }
}

private final class MetricsHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let renderer: SharedRender
    private var request: HTTPRequestHead?

    init(renderer: SharedRender) { self.renderer = renderer }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break
        case .end:
            guard let head = request else { return }
            request = nil
            respond(to: head, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard head.method == .GET || head.method == .HEAD else {
            return send(.methodNotAllowed, "only GET and HEAD\n", head: head, context: context, extra: [("Allow", "GET, HEAD")])
        }
        switch head.uri.split(separator: "?", maxSplits: 1).first ?? "" {
        case "/metrics":
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            renderer.metrics(on: context.eventLoop).whenSuccess { text in
                let (handler, context) = loopBound.value
                handler.send(.ok, text, head: head, context: context, contentType: "text/plain; version=0.0.4; charset=utf-8")
            }
        case "/healthz":
            if renderer.isReady {
                send(.ok, "ok\n", head: head, context: context)
            } else {
                send(.serviceUnavailable, "starting\n", head: head, context: context)
            }
        default:
            send(.notFound, "/metrics or /healthz\n", head: head, context: context)
        }
    }

    private func send(
        _ status: HTTPResponseStatus, _ body: String, head request: HTTPRequestHead, context: ChannelHandlerContext,
        contentType: String = "text/plain; charset=utf-8", extra: [(String, String)] = []
    ) {
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders([("Content-Type", contentType), ("Content-Length", String(body.utf8.count))] + extra)
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}
