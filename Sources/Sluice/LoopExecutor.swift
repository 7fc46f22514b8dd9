import CSluiceIO

/// A task executor that runs jobs on one event loop's thread.
///
/// Request tasks prefer it, so a request that arrives on a loop is parsed, handled and
/// answered on that loop's thread without a hop to Swift's global pool and back. Jobs
/// enqueued from the loop's own thread cost no system call; from other threads, one
/// coalesced wake-up.
final class LoopExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: the only stored property is a pointer to a C loop whose enqueue call is
    // documented as safe from any thread, and which outlives this executor's use.
    let loop: OpaquePointer

    init(loop: OpaquePointer) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unownedJob = UnownedJob(job)
        sluice_io_loop_enqueue_job(loop, unsafeBitCast(unownedJob, to: UnsafeMutableRawPointer.self))
    }

    /// Whether the caller runs on this executor's loop thread.
    var isCurrent: Bool { sluice_io_loop_is_current(loop) != 0 }

    /// The `run_job` callback of the shim: runs one job enqueued above.
    static let runJob: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = { context, job in
        guard let context, let job else { return }
        let executor = Unmanaged<LoopExecutor>.fromOpaque(context).takeUnretainedValue()
        unsafeBitCast(job, to: UnownedJob.self).runSynchronously(on: executor.asUnownedTaskExecutor())
    }
}

/// What the C API needs to know about the calling thread.
package enum LoopThread {
    /// Whether the caller runs on an event loop thread, where nothing may block.
    package static var isCurrent: Bool { sluice_io_on_loop_thread() != 0 }
}
