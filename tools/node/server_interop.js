// A node-opcua server for edgetwin's interop test: Basic256Sha256 SignAndEncrypt only, one
// user, and variables whose values follow a formula the Python test can check:
//   ns=1;s=Interop.Ramp    = tick            (Double, +1 every 100 ms)
//   ns=1;s=Interop.Square  = tick * tick     (Double)
//   ns=1;s=Interop.Flag    = tick % 2 == 0   (Boolean)
// Usage: node server_interop.js PORT PKI_DIR USER PASSWORD
// The client certificate must already be in PKI_DIR/trusted/certs. Prints "READY <cert path>".
"use strict";
const path = require("path");
const fs = require("fs");
const {
    OPCUAServer, OPCUACertificateManager, SecurityPolicy, MessageSecurityMode, DataType,
    Variant, StatusCodes, DataValue,
} = require("node-opcua");

async function main() {
    const [port, pki, user, password] = process.argv.slice(2);
    const serverCertificateManager = new OPCUACertificateManager({
        rootFolder: pki, automaticallyAcceptUnknownCertificate: false,
    });
    await serverCertificateManager.initialize();
    const server = new OPCUAServer({
        port: Number(port),
        hostname: "127.0.0.1",
        resourcePath: "/interop",
        serverCertificateManager,
        certificateFile: path.join(pki, "own", "certs", "server_cert.pem"),
        privateKeyFile: path.join(pki, "own", "private", "private_key.pem"),
        securityPolicies: [SecurityPolicy.Basic256Sha256],
        securityModes: [MessageSecurityMode.SignAndEncrypt],
        allowAnonymous: false,
        userManager: { isValidUser: (u, p) => u === user && p === password },
        serverInfo: { applicationUri: "urn:edgetwin:interop:node-opcua-server" },
    });
    await server.initialize();
    const ns = server.engine.addressSpace.getOwnNamespace();
    const folder = ns.addFolder(server.engine.addressSpace.rootFolder.objects, { browseName: "Interop" });
    let tick = 0;
    const mk = (name, dataType) => ns.addVariable({
        componentOf: folder, browseName: name, nodeId: `s=Interop.${name}`, dataType,
        minimumSamplingInterval: 50,
    });
    const ramp = mk("Ramp", "Double");
    const square = mk("Square", "Double");
    const flag = mk("Flag", "Boolean");
    const set = () => {
        const now = new Date();
        // setValueFromSource, not a getter: a getter forces 1000 ms sampling
        ramp.setValueFromSource({ dataType: DataType.Double, value: tick }, StatusCodes.Good, now);
        square.setValueFromSource({ dataType: DataType.Double, value: tick * tick }, StatusCodes.Good, now);
        flag.setValueFromSource({ dataType: DataType.Boolean, value: tick % 2 === 0 }, StatusCodes.Good, now);
    };
    set();
    const timer = setInterval(() => { tick += 1; set(); }, 100);
    await server.start();
    const cert = path.join(pki, "own", "certs", "server_cert.pem");
    console.log(`READY ${server.getEndpointUrl()} ${fs.existsSync(cert) ? cert : ""}`);
    const stop = async () => { clearInterval(timer); await server.shutdown(100); process.exit(0); };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
}
main().catch((err) => { console.error(err); process.exit(1); });
