import Sluice

/// The demo's endpoints: the contract that both demos (Swift and C) serve.
enum DemoRoutes {
    static func router() -> Router {
        var router = Router()
        router.get("/hello") { _, _ in .text("Hello, World!") }
        router.get("/json") { _, _ in .json(#"{"message":"Hello, World!"}"#) }
        router.post("/echo") { request, _ in
            var response = Response(body: request.body)
            response.headers.add(name: "Content-Type", value: request.headers["content-type"] ?? "application/octet-stream")
            return response
        }
        return router
    }
}
