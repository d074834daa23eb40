# The control-plane transport's own handshake (cluster/src/rpc). Every frame on an rpc connection
# is a 4-byte little-endian length, then one Cap'n Proto message of that many bytes. The first
# frame each way is an RpcHello; everything after it belongs to the protocol above (the job
# manager's and task managers' control messages), which the transport never looks into.
#
# The connecting side speaks first. The accepting side checks the version and the cluster token
# and only then answers with its own Hello, so a peer without the token never learns it; a refused
# peer gets a Hello whose `refusal` says why (and no token), then the connection closes.
#
# This struct must stay readable by every version: fields are only ever added. A change the
# transport's peers cannot ignore bumps kRpcProtocolVersion (rpc_options.h).
@0xbc24b54805a5d86a;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("brook::rpc::wire");

enum PeerRole {
  jobManager @0;
  taskManager @1;
  client @2;
}

struct RpcHello {
  protocolVersion @0 :UInt32;
  clusterToken @1 :Text;
  role @2 :PeerRole;
  name @3 :Text;      # for logs and status pages: "jobmanager", "tm-host-1", "brook cli"
  refusal @4 :Text;   # set only in an accepting side's answer to a Hello it refuses
}
