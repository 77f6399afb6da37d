// node-opcua as a client of edgetwin's OPC UA twin server (interop test).
// Usage: node client_interop.js ENDPOINT USER PASSWORD SIGNAL_ID
// Browses Objects/Plant down to SIGNAL_ID, reads it, subscribes to its value and to
// AlarmConditionType events on the Server object, prints "SUBSCRIBED", then acknowledges the
// first active unacknowledged alarm with the standard Acknowledge method and waits for the
// acknowledged event. Prints one "RESULT {json}" line and exits 0, or exits 1 on failure.
"use strict";
const {
    OPCUAClient, MessageSecurityMode, SecurityPolicy, AttributeIds, UserTokenType, DataType,
    TimestampsToReturn, constructEventFilter, ofType, resolveNodeId, NodeClass,
} = require("node-opcua");

async function main() {
    const [endpoint, user, password, signalId] = process.argv.slice(2);
    const result = { browse: [], read: null, values: [], events: [], acked: false };
    const client = OPCUAClient.create({
        endpointMustExist: false, securityMode: MessageSecurityMode.None,
        securityPolicy: SecurityPolicy.None, connectionStrategy: { maxRetry: 3, initialDelay: 200 },
    });
    await client.connect(endpoint);
    const session = await client.createSession({ type: UserTokenType.UserName, userName: user, password });
    try {
        // browse Objects -> Plant -> ... following the signal id's path segments
        let node = "ns=0;i=85";
        for (const name of ["Plant", ...signalId.split("/")]) {
            const br = await session.browse({ nodeId: node, browseDirection: 0, resultMask: 63,
                                              nodeClassMask: NodeClass.Object | NodeClass.Variable });
            const hit = br.references.find((r) => r.browseName.name === name);
            if (!hit) throw new Error(`browse: ${name} not found under ${node}`);
            result.browse.push(hit.browseName.toString());
            node = hit.nodeId.toString();
        }
        result.nodeId = node;
        const dv = await session.read({ nodeId: node, attributeId: AttributeIds.Value });
        result.read = dv.value.value;

        const sub = await session.createSubscription2({
            requestedPublishingInterval: 100, requestedLifetimeCount: 600,
            requestedMaxKeepAliveCount: 20, publishingEnabled: true,
        });
        const item = await sub.monitor({ nodeId: node, attributeId: AttributeIds.Value },
            { samplingInterval: 100, queueSize: 10, discardOldest: true }, TimestampsToReturn.Both);
        item.on("changed", (v) => result.values.push(v.value.value));

        const fields = ["EventId", "ConditionId", "ConditionName", "ActiveState.Id", "AckedState.Id",
                        "Severity", "Message", "ClientUserId"];
        const filter = constructEventFilter(fields, ofType("AlarmConditionType"));
        const evItem = await sub.monitor({ nodeId: resolveNodeId("Server"), attributeId: AttributeIds.EventNotifier },
            { queueSize: 100, filter, discardOldest: true }, TimestampsToReturn.Both);
        const events = [];
        let waiter = null;
        evItem.on("changed", (fieldsValues) => {
            const ev = {};
            fields.forEach((f, i) => { ev[f] = fieldsValues[i].value; });
            events.push(ev);
            result.events.push({ condition: ev.ConditionId ? ev.ConditionId.toString() : null,
                                 active: ev["ActiveState.Id"], acked: ev["AckedState.Id"],
                                 severity: ev.Severity, message: ev.Message ? ev.Message.text : null });
            if (waiter) waiter();
        });
        const until = (pred, ms) => new Promise((resolve, reject) => {
            const t = setTimeout(() => reject(new Error("timeout waiting for events")), ms);
            const check = () => { const e = events.find(pred); if (e) { clearTimeout(t); resolve(e); } };
            waiter = check; check();
        });
        console.log("SUBSCRIBED");
        const alarm = await until((e) => e["ActiveState.Id"] === true && e["AckedState.Id"] === false, 15000);
        const res = await session.call({
            objectId: alarm.ConditionId, methodId: "ns=0;i=9111",
            inputArguments: [
                { dataType: DataType.ByteString, value: alarm.EventId },
                { dataType: DataType.LocalizedText, value: { text: "acknowledged by node-opcua" } },
            ],
        });
        result.ackStatus = res.statusCode.name;
        await until((e) => e.ConditionId && alarm.ConditionId &&
            e.ConditionId.toString() === alarm.ConditionId.toString() && e["AckedState.Id"] === true, 10000);
        result.acked = true;
        await new Promise((r) => setTimeout(r, 300));
        await sub.terminate();
    } finally {
        await session.close();
        await client.disconnect();
    }
    console.log("RESULT " + JSON.stringify(result));
}
main().then(() => process.exit(0)).catch((err) => { console.error("FAILED", err.message); process.exit(1); });
