import CTCPKeepBPF

/// The BPF objects the BuildBPF plugin compiled from bpf/ at build time (their base64 text is
/// in the source it generates), as the C loaders take them. Each is decoded once, on first use,
/// into memory that is never written or freed again: libbpf reads the bytes in place while it
/// opens an object, so the pointer must stay valid, and sharing it between threads is safe.
enum EmbeddedBPF {
    /// bpf/tcpkeep.bpf.c: kernel mode's sock_ops and setsockopt programs and their values map.
    nonisolated(unsafe) static let kernelMode = decodedObject(kernelModeBase64)
    /// bpf/socket_holders.bpf.c: the audit's socket holders iterator.
    nonisolated(unsafe) static let socketHolders = decodedObject(socketHoldersBase64)

    private static func decodedObject(_ base64: String) -> tcpkeep_bpf_object {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(base64.utf8.count / 4 * 3)
        var accumulator: UInt32 = 0
        var bits = 0
        for character in base64.utf8 {
            let value: UInt8
            switch character {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = character - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = character - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = character - UInt8(ascii: "0") + 52
            case UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "/"): value = 63
            default: continue // the "=" padding
            }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 8)
        storage.copyBytes(from: bytes)
        return tcpkeep_bpf_object(bytes: UnsafeRawPointer(storage.baseAddress), size: bytes.count)
    }
}
