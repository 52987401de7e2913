// The test service's definition, shared by server.mjs and grpc.test.mjs. Messages are JSON in
// gRPC's length-prefixed framing: gRPC itself does not care what the bytes are, and so no
// protobuf compiler is needed.
const json = {
  serialize: (value) => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes) => JSON.parse(bytes.toString()),
};

function method(name, requestStream, responseStream) {
  return {
    path: `/slipway.test.Echo/${name}`,
    requestStream,
    responseStream,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  };
}

export const EchoService = {
  say: method('Say', false, false),
  count: method('Count', false, true),
  sum: method('Sum', true, false),
  chat: method('Chat', true, true),
  stats: method('Stats', false, false),
};
