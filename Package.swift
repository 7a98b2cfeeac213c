// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "channel-gateway",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "gateway", targets: ["Gateway"]),
        .executable(name: "gateway-bench", targets: ["Bench"]),
        .library(name: "ChannelClient", targets: ["ChannelClient"]),
        .library(name: "ChannelProtocol", targets: ["ChannelProtocol"]),
        .library(name: "ServiceKit", targets: ["ServiceKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // C libraries, wrapped once: librdkafka in Shared/Kafka, hiredis in Shared/Redis.
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka"),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis"),

        // The device protocol: frames and their encodings. Pure Swift, so device clients link no Kafka or Redis.
        .target(name: "ChannelProtocol", swiftSettings: strict),

        // What edges, routers and services share: Kafka and Redis clients, the device registry, tokens, topic names.
        .target(
            name: "Shared",
            dependencies: [
                "CRdKafka", "CHiredis", "ChannelProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Edge",
            dependencies: [
                "Shared", "ChannelProtocol",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Router",
            dependencies: [
                "Shared", .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The service SDK: consume a service's upstream topic, reply to devices, send to any device (at least once).
        .target(
            name: "ServiceKit",
            dependencies: ["Shared", "ChannelProtocol", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "EchoService",
            dependencies: ["ServiceKit", "Shared", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // The presence service: devices set and watch presence; edges' connection events keep `online` true.
        .target(
            name: "PresenceService",
            dependencies: [
                "ServiceKit", "Shared", "ChannelProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // The push service: an HTTP API for app servers (RFC 8030 in spirit) and device subscriptions over the channel.
        .target(
            name: "PushService",
            dependencies: [
                "ServiceKit", "Shared", "ChannelProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // The admin endpoint every component serves: /healthz, /readyz, /metrics (Prometheus).
        .target(
            name: "Admin",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        // The device side: a WebSocket client speaking protocol v1, used by tests, the load generator and apps.
        .target(
            name: "ChannelClient",
            dependencies: [
                "ChannelProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        // Starts and supervises local processes (Redis, Tansu, gateway components): `gateway dev` and the tests.
        .target(
            name: "DevCluster",
            dependencies: [
                "Shared",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "Gateway",
            dependencies: [
                "Shared", "Edge", "Router", "EchoService", "PushService", "PresenceService", "DevCluster", "ChannelProtocol", "Admin",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The load generator: starts a local cluster and drives it from several device processes (docs/performance.md).
        .executableTarget(
            name: "Bench",
            dependencies: [
                "Shared", "ChannelClient", "ChannelProtocol", "DevCluster",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "ChannelProtocolTests", dependencies: ["ChannelProtocol"], swiftSettings: strict),
        .testTarget(
            name: "SharedTests",
            dependencies: [
                "Shared", "DevCluster", .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "FaultTests",
            dependencies: ["Shared", "ChannelClient", "ChannelProtocol", "DevCluster"],
            swiftSettings: strict
        ),
        .testTarget(name: "ServiceKitTests", dependencies: ["ServiceKit", "Shared", "ChannelProtocol"], swiftSettings: strict),
        .testTarget(name: "PresenceServiceTests", dependencies: ["PresenceService", "Shared", "ChannelProtocol"], swiftSettings: strict),
        .testTarget(name: "PushServiceTests", dependencies: ["PushService", "ServiceKit"], swiftSettings: strict),
        .testTarget(
            name: "EdgeTests",
            dependencies: ["Edge", "Shared", "ChannelProtocol", .product(name: "NIOEmbedded", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "Shared", "ChannelClient", "ChannelProtocol", "DevCluster", "ServiceKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
    ]
)
