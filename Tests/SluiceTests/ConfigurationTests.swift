import Sluice
import Testing

@Suite("Configuration checks")
struct ConfigurationTests {
    private func runError(_ configuration: Configuration, _ routes: (inout Router) -> Void = standardRoutes) async -> SluiceError? {
        var configuration = configuration
        configuration.port = 0
        var router = Router()
        routes(&router)
        do {
            try await Server(configuration: configuration, router: router).run()
            return nil
        } catch let error as SluiceError {
            return error
        } catch {
            return nil
        }
    }

    @Test("overload settings out of range make run() throw a readable error, never crash")
    func invalidOverloadSettings() async throws {
        var configuration = Configuration()
        configuration.adaptiveConcurrency = AdaptiveConcurrency(minLimit: 10, maxLimit: 5, initialLimit: 5)
        #expect(await runError(configuration)?.code == .invalidConfiguration)
        configuration = Configuration()
        configuration.overloadStatus = 500
        #expect(await runError(configuration)?.message.contains("overloadStatus") == true)
        configuration = Configuration()
        configuration.maxConcurrency = 0
        #expect(await runError(configuration)?.code == .invalidConfiguration)
    }

    @Test("guaranteed shares over the whole budget make run() throw")
    func sharesOverBudget() async throws {
        let error = await runError(Configuration()) { router in
            router.get("/a", options: RouteOptions(share: GuaranteedShare(name: "a", fraction: 0.7))) { _, _ in .text("a") }
            router.get("/b", options: RouteOptions(share: GuaranteedShare(name: "b", fraction: 0.5))) { _, _ in .text("b") }
        }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("shares") == true)
    }
}
