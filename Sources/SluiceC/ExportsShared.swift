import CSluiceAPI
import Sluice

// Shared-state entry points of Include/sluice.h.

@_cdecl("sluice_counter_add")
public func sluiceCounterAdd(_ out: UnsafeMutablePointer<Int64>?, _ handle: OpaquePointer?, _ name: UnsafePointer<CChar>?,
                             _ delta: Int64) -> Int32 {
    guard let server = CServer.from(handle), let name = CString.read(name) else { return ErrorCode.invalid }
    let value = server.shared.counter(name).add(delta)
    out?.pointee = value
    return ErrorCode.ok
}

@_cdecl("sluice_counter_get")
public func sluiceCounterGet(_ out: UnsafeMutablePointer<Int64>?, _ handle: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> Int32 {
    guard let out, let server = CServer.from(handle), let name = CString.read(name) else { return ErrorCode.invalid }
    out.pointee = server.shared.counter(name).load()
    return ErrorCode.ok
}

@_cdecl("sluice_store_get")
public func sluiceStoreGet(_ outLength: UnsafeMutablePointer<Int>?, _ handle: OpaquePointer?, _ key: UnsafePointer<CChar>?,
                           _ buffer: UnsafeMutableRawPointer?, _ capacity: Int) -> Int32 {
    guard let server = CServer.from(handle), let key = CString.read(key), capacity == 0 || buffer != nil else {
        return ErrorCode.invalid
    }
    guard let value = server.shared.value(forKey: key) else { return ErrorCode.notFound }
    outLength?.pointee = value.count
    guard value.count <= capacity else { return ErrorCode.range }
    value.withUnsafeBytes { bytes in
        if let base = bytes.baseAddress { buffer!.copyMemory(from: base, byteCount: bytes.count) }
    }
    return ErrorCode.ok
}

@_cdecl("sluice_store_set")
public func sluiceStoreSet(_ handle: OpaquePointer?, _ key: UnsafePointer<CChar>?, _ value: UnsafeRawPointer?, _ length: Int) -> Int32 {
    guard let server = CServer.from(handle), let key = CString.read(key), length == 0 || value != nil else {
        return ErrorCode.invalid
    }
    server.shared.setValue(Array(UnsafeRawBufferPointer(start: value, count: length)), forKey: key)
    return ErrorCode.ok
}

@_cdecl("sluice_store_delete")
public func sluiceStoreDelete(_ handle: OpaquePointer?, _ key: UnsafePointer<CChar>?) -> Int32 {
    guard let server = CServer.from(handle), let key = CString.read(key) else { return ErrorCode.invalid }
    return server.shared.update(key) { value in
        defer { value = nil }
        return value == nil ? ErrorCode.notFound : ErrorCode.ok
    }
}

/// What an update callback decided, behind a `sluice_value *`.
final class NextValue {
    enum Decision {
        case unchanged
        case set([UInt8])
        case remove
    }

    var decision = Decision.unchanged
}

@_cdecl("sluice_store_update")
public func sluiceStoreUpdate(
    _ handle: OpaquePointer?, _ key: UnsafePointer<CChar>?,
    _ update: (@convention(c) (UnsafeRawPointer?, Int, Int32, OpaquePointer?, UnsafeMutableRawPointer?) -> Void)?,
    _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let server = CServer.from(handle), let key = CString.read(key), let update else { return ErrorCode.invalid }
    server.shared.update(key) { value in
        let next = NextValue()
        withExtendedLifetime(next) {
            let nextHandle = OpaquePointer(Unmanaged.passUnretained(next).toOpaque())
            if let current = value {
                current.withUnsafeBytes { update($0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), current.count, 1, nextHandle, userData) }
            } else {
                update(nil, 0, 0, nextHandle, userData)
            }
        }
        switch next.decision {
        case .unchanged: break
        case .set(let bytes): value = bytes
        case .remove: value = nil
        }
    }
    return ErrorCode.ok
}

@_cdecl("sluice_value_set")
public func sluiceValueSet(_ handle: OpaquePointer?, _ bytes: UnsafeRawPointer?, _ length: Int) -> Int32 {
    guard let handle, length == 0 || bytes != nil else { return ErrorCode.invalid }
    let next = Unmanaged<NextValue>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
    next.decision = .set(Array(UnsafeRawBufferPointer(start: bytes, count: length)))
    return ErrorCode.ok
}

@_cdecl("sluice_value_remove")
public func sluiceValueRemove(_ handle: OpaquePointer?) -> Int32 {
    guard let handle else { return ErrorCode.invalid }
    Unmanaged<NextValue>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue().decision = .remove
    return ErrorCode.ok
}
