import APIContract
import ChannelProtocol
import Shared

/// Disconnect, drain, edges and cluster (docs/api.md), over the edges' hand-off listeners (``EdgeControl``) and the
/// cluster's records in Redis and Kafka (``ClusterOverview``).
extension APIHandler {
    func disconnectDevice(_ input: Operations.DisconnectDevice.Input) async throws -> Operations.DisconnectDevice.Output {
        let device = input.path.device
        if let problem = Self.checked(device: device) { return .badRequest(.because(problem)) }
        var code = Int(CloseCode.disconnected.rawValue), delay: Int?
        if case .json(let request)? = input.body {
            code = request.code ?? code
            delay = request.reconnectAfterMs
        }
        guard let closeCode = UInt16(exactly: code) else { return .badRequest(.because("code: a close code of 1000, 1001 or 4000 to 4999")) }
        do {
            switch try await control.disconnect(device: device, code: closeCode, reconnectAfterMs: delay) {
            case .disconnected(let edge, let session):
                return .ok(.init(body: .json(.init(device: device, edge: edge, session: session))))
            case .offline:
                return .notFound(.because("device \(device.prefix(64)) is not connected", code: "offline"))
            }
        } catch let refused as EdgeControlError {
            return .badRequest(.because(refused.description))
        } catch {
            logger.warning("api: disconnect failed: \(error)")
            return .serviceUnavailable(.failed("the device's edge or Redis did not answer"))
        }
    }

    func drainEdge(_ input: Operations.DrainEdge.Input) async throws -> Operations.DrainEdge.Output {
        let edge = input.path.edge
        do {
            guard try await control.drain(edge: edge) else {
                return .notFound(.because("no live edge \(edge.prefix(64))"))
            }
            return .accepted(.init(body: .json(.init(edge: edge, draining: true))))
        } catch {
            logger.warning("api: drain failed: \(error)")
            return .serviceUnavailable(.failed("the edge or Redis did not answer"))
        }
    }

    func listEdges(_ input: Operations.ListEdges.Input) async throws -> Operations.ListEdges.Output {
        await answeringRedisFailure("listing edges", Operations.ListEdges.Output.serviceUnavailable) {
            .ok(.init(body: .json(.init(edges: try await overview.edges().map(Self.edgeInfo)))))
        }
    }

    func getCluster(_ input: Operations.GetCluster.Input) async throws -> Operations.GetCluster.Output {
        do {
            async let edges = overview.edges()
            async let routers = overview.routers()
            async let groups = overview.consumerGroups()
            let cluster = Components.Schemas.Cluster(
                edges: try await edges.map(Self.edgeInfo),
                routers: try await routers.map { .init(id: $0.id, alive: $0.alive, startedAt: $0.startedAtMs, group: $0.group) },
                consumerGroups: try await groups.map { group in
                    .init(group: group.group, topic: group.topic, lag: group.lag, partitions: group.partitions.map {
                        .init(partition: Int($0.partition), committed: $0.committed, end: $0.end, lag: $0.lag)
                    })
                })
            return .ok(.init(body: .json(cluster)))
        } catch {
            logger.warning("api: the cluster overview failed: \(error)")
            return .serviceUnavailable(.failed("Redis or Kafka did not answer"))
        }
    }

    static func edgeInfo(_ edge: EdgeStatus) -> Components.Schemas.EdgeInfo {
        .init(id: edge.id, instance: edge.instance, address: edge.address, connections: edge.connections, alive: edge.alive,
              startedAt: edge.startedAtMs, draining: edge.draining)
    }
}
