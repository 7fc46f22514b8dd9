// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Sluice",
    products: [
        .library(name: "Sluice", targets: ["Sluice"]),
        .library(name: "sluice", type: .dynamic, targets: ["SluiceC"]),
        .executable(name: "sluice-demo", targets: ["SluiceDemo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibUV",
            pkgConfig: "libuv",
            providers: [.apt(["libuv1-dev"])]
        ),
        .target(
            name: "CSluiceIO",
            dependencies: ["CLibUV"],
            cSettings: [.define("_GNU_SOURCE")]
        ),
        .target(
            name: "Sluice",
            dependencies: [
                "CSluiceIO",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .systemLibrary(name: "CSluiceAPI"),
        .target(
            name: "SluiceC",
            dependencies: [
                "Sluice", "CSluiceAPI",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "SluiceDemo",
            dependencies: [
                "Sluice",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "examples/swift-demo",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "SluiceMicroBench",
            dependencies: [
                "Sluice",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/micro/swift",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "CSluiceIOTests",
            dependencies: ["CSluiceIO"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "SluiceTests",
            dependencies: [
                "Sluice", "CSluiceIO",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
