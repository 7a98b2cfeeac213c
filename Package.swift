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
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-openapi-generator.git", from: "1.14.3"),
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", from: "1.13.4"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird.git", from: "2.1.0"),
        .package(url: "https://github.com/apple/swift-openapi-urlsession", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        // C libraries, wrapped once: librdkafka in Shared/Kafka, hiredis in Shared/Redis.
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka"),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis"),
        // The system calls that take raw pointers (posix_spawn and pipes for child processes, mmap for the TLS buffers),
        // in C so that no pointer reaches Swift; wrapped once in Shared/Infrastructure/System.
        .target(name: "CSystemCalls"),

        // The device protocol: frames and their encodings. Pure Swift, so device clients link no Kafka or Redis.
        .target(name: "ChannelProtocol", swiftSettings: strict),

        // How long-lived loops run: threads owned by blocking loops, recurring work, offloading blocking calls, all as
        // swift-service-lifecycle services. Pure Swift, so tools link no Kafka or Redis to use it.
        .target(
            name: "Lifecycle",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        // The C underneath, each wrapped once behind Swift types: librdkafka and hiredis (the Kafka and Redis clients;
        // the C modules are imported internally, so no other module reaches them), and CSystemCalls (child processes and
        // the TLS buffers). No domain knowledge.
        .target(
            name: "Infrastructure",
            dependencies: [
                "CRdKafka", "CHiredis", "CSystemCalls", "Lifecycle",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Shared/Infrastructure",
            swiftSettings: strict
        ),

        // The domain every part shares: the device registry, mailboxes, tokens, the service catalog, topic names, the
        // Kafka contract's records and the router-to-edge hand-off.
        .target(
            name: "Shared",
            dependencies: [
                "Infrastructure", "ChannelProtocol", "Lifecycle",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["Infrastructure"],
            swiftSettings: strict
        ),
        .target(
            name: "Edge",
            dependencies: [
                "Shared", "Infrastructure", "ChannelProtocol", "Lifecycle",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
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
                "Shared", "Infrastructure", "Lifecycle", "ChannelProtocol",
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The service SDK: consume a service's upstream topic, reply to devices, send to any device (at least once).
        .target(
            name: "ServiceKit",
            dependencies: [
                "Shared", "Infrastructure", "ChannelProtocol", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "EchoService",
            dependencies: [
                "ServiceKit", "Shared", "Infrastructure", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The presence service: devices set and watch presence; edges' connection events keep `online` true.
        .target(
            name: "PresenceService",
            dependencies: [
                "ServiceKit", "Shared", "Infrastructure", "ChannelProtocol", "Lifecycle",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // The push service: an HTTP API for app servers (RFC 8030 in spirit) and device subscriptions over the channel.
        .target(
            name: "PushService",
            dependencies: [
                "ServiceKit", "Shared", "Infrastructure", "ChannelProtocol", "Lifecycle",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
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
                "Lifecycle",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
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
        // The HTTP API's contract, generated at build time from docs/openapi.yaml (through the link in the target's
        // folder): the types, the server protocol and a client (docs/api.md).
        .target(
            name: "APIContract",
            dependencies: [.product(name: "OpenAPIRuntime", package: "swift-openapi-runtime")],
            swiftSettings: strict,
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),
        // The HTTP API (`gateway api`, docs/api.md): the handlers of the generated server on Hummingbird, the key check by
        // scope, metrics, and the document itself at /openapi.yaml (embedded from the same file).
        .target(
            name: "GatewayAPI",
            dependencies: [
                "APIContract", "Shared", "Infrastructure", "ChannelProtocol", "ServiceKit", "Lifecycle",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.embedInCode("Resources/openapi.yaml")],
            swiftSettings: strict
        ),
        // Starts and supervises local processes (Redis, Tansu, gateway components): `gateway dev` and the tests.
        .target(
            name: "DevCluster",
            dependencies: [
                "Infrastructure", "Lifecycle",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "Gateway",
            dependencies: [
                "Shared", "Infrastructure", "Edge", "Router", "EchoService", "PushService", "PresenceService", "DevCluster", "ChannelProtocol", "Admin",
                "Lifecycle", "ServiceKit", "GatewayAPI",
                .product(name: "OpenAPIURLSession", package: "swift-openapi-urlsession"), "APIContract",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
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
        // The chaos run's ledger and its invariant checks, pure values (gateway-bench chaos fills the ledger).
        .target(name: "ChaosCheck", swiftSettings: strict),
        // The load generator: starts a local cluster and drives it from several device processes (docs/performance.md).
        .executableTarget(
            name: "Bench",
            dependencies: [
                "Shared", "Infrastructure", "ChannelClient", "ChannelProtocol", "DevCluster", "Lifecycle", "ChaosCheck",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LifecycleTests",
            dependencies: ["Lifecycle", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: strict
        ),
        .testTarget(name: "ChannelProtocolTests", dependencies: ["ChannelProtocol"], swiftSettings: strict),
        .testTarget(name: "GatewayAPITests", dependencies: ["GatewayAPI"], swiftSettings: strict),
        .testTarget(
            name: "SharedTests",
            dependencies: [
                "Shared", "Infrastructure", "DevCluster", "Lifecycle", .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "FaultTests",
            dependencies: ["Shared", "Infrastructure", "ChannelClient", "ChannelProtocol", "DevCluster", "Lifecycle"],
            swiftSettings: strict
        ),
        .testTarget(name: "ChaosCheckTests", dependencies: ["ChaosCheck"], swiftSettings: strict),
        .testTarget(name: "GatewayTests", dependencies: ["Gateway", "APIContract"], swiftSettings: strict),
        .testTarget(name: "ServiceKitTests", dependencies: ["ServiceKit", "Shared", "Infrastructure", "ChannelProtocol"], swiftSettings: strict),
        .testTarget(name: "PresenceServiceTests", dependencies: ["PresenceService", "Shared", "Infrastructure", "ChannelProtocol"], swiftSettings: strict),
        .testTarget(
            name: "PushServiceTests",
            dependencies: [
                "PushService", "ServiceKit", "Shared", "Infrastructure", "HTTPTestSupport",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Fakes of the Kafka producer and the hand-off client, shared by the in-process tests of the edge and router.
        .target(
            name: "TestDoubles",
            dependencies: [
                "Shared", "Infrastructure", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Tests/TestDoubles",
            swiftSettings: strict
        ),
        .testTarget(
            name: "EdgeTests",
            dependencies: [
                "Edge", "Shared", "Infrastructure", "ChannelProtocol", "TestDoubles", "HTTPTestSupport",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RouterTests",
            dependencies: [
                "Router", "Shared", "Infrastructure", "TestDoubles", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Reads back, in the handler tests, the HTTP responses a pipeline wrote to an embedded channel.
        .target(
            name: "HTTPTestSupport",
            dependencies: [.product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio")],
            path: "Tests/HTTPTestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "AdminTests",
            dependencies: [
                "Admin", "HTTPTestSupport",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "Shared", "Infrastructure", "ChannelClient", "ChannelProtocol", "DevCluster", "ServiceKit", "Lifecycle",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
    ]
)
