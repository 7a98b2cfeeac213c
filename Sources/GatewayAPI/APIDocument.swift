/// docs/openapi.yaml as served at `GET /openapi.yaml`: embedded at build time from the same file the server and
/// client are generated from (Resources/openapi.yaml is a link to it), so what is served is what is implemented.
enum APIDocument {
    static var bytes: [UInt8] { PackageResources.openapi_yaml }
}
