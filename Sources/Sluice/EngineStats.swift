import Synchronization

/// The engine's request counters; each is exact, read with `snapshot`.
final class EngineStats: Sendable {
    let completed = Atomic<Int>(0)
    let rejected = Atomic<Int>(0)
    let cancelled = Atomic<Int>(0)
    let errors = Atomic<Int>(0)
}
