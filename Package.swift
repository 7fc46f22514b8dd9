// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Sluice",
    products: [
        .library(name: "Sluice", targets: ["Sluice"]),
        .executable(name: "sluice-demo", targets: ["SluiceDemo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
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
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "SluiceDemo",
            dependencies: ["Sluice"],
            path: "examples/swift-demo",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "CSluiceIOTests",
            dependencies: ["CSluiceIO"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "SluiceTests",
            dependencies: ["Sluice", "CSluiceIO"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
