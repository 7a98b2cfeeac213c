// The HTTP API's contract: the types, the server protocol (`APIProtocol`) and the client are generated at build time
// from openapi.yaml, a link to docs/openapi.yaml, so the document is the one source of truth (docs/api.md).
@_exported import OpenAPIRuntime
