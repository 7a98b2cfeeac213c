// A backend author imports ServiceKit alone: the types its API takes and returns (Topics, KafkaConfig, KafkaRecord,
// Payload, …) come from these modules, re-exported so that no second import is needed.
@_exported import ChannelProtocol
@_exported import Infrastructure
@_exported import Logging
@_exported import Shared
