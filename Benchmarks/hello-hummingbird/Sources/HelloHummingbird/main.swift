import Hummingbird
import NIOCore
import NIOPosix

// GET /hello, GET /json, POST /echo on one event loop thread, printing the same
// "listening on" line as the demos so the benchmark can start it the same way.
let port = Int(CommandLine.arguments.dropFirst().first ?? "8093") ?? 8093
let router = Router()
router.get("hello") { _, _ in "Hello, World!" }
router.get("json") { _, _ in
    Response(status: .ok, headers: [.contentType: "application/json"],
             body: .init(byteBuffer: ByteBuffer(string: #"{"message":"Hello, World!"}"#)))
}
router.post("echo") { request, _ in
    let body = try await request.body.collect(upTo: 1 << 20)
    return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: body))
}
let app = Application(
    router: router,
    configuration: .init(address: .hostname("127.0.0.1", port: port)),
    onServerRunning: { _ in print("listening on http://127.0.0.1:\(port)") },
    eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup(numberOfThreads: 1))
)
try await app.runService()
