// swift-tools-version:6.0
// Hummingbird 2 with the benchmark's endpoints, one NIO thread: a peer for make bench-peers.
import PackageDescription

let package = Package(
    name: "HelloHummingbird",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        .executableTarget(
            name: "HelloHummingbird",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
