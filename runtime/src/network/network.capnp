# The data plane protocol between NetworkEnvironments (task managers).
#
# Every message on a TCP connection is one frame: a 4-byte little-endian length, then a Cap'n
# Proto message (standard segment table + segments) of that many bytes whose root is a Message.
# The connecting end sends its Hello first; the accepting end checks it and only then answers
# with its own (so a peer without the token never learns it); each checks the other's Hello
# before anything else. Then:
#   consumer -> producer: RequestChannel (once per channel, carries the initial credits),
#                         Credit (for buffers the consumer has drained, a few at a time),
#                         CloseChannel
#   producer -> consumer: DataBuffer (only against a credit), CloseChannel
# Evolve by Cap'n Proto's rules: add fields and union members, never renumber. A change that
# old peers cannot ignore bumps the protocol version (kProtocolVersion in wire_internal.h).
@0xec9d56437fea9bd6;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("brook::network::wire");

# One logical channel: (job, edge of the job graph, producer subtask, consumer subtask).
struct ChannelId {
  jobId @0 :UInt64;
  edge @1 :UInt32;
  producerSubtask @2 :Int32;
  consumerSubtask @3 :Int32;
}

struct Hello {
  protocolVersion @0 :UInt32;
  clusterToken @1 :Text;
  # "host:port" where the sender accepts data connections, so the receiver of this Hello can
  # reuse the connection instead of opening a second one to the same peer.
  advertisedAddress @2 :Text;
}

# The consumer asks for the channel's data and grants its first credits.
struct RequestChannel {
  channel @0 :ChannelId;
  initialCredits @1 :UInt32;
}

# One network buffer of a channel: serialized records and events (see element_codec.h).
struct DataBuffer {
  channel @0 :ChannelId;
  sequence @1 :UInt64;  # 0, 1, 2, ... per channel; a gap is a protocol error
  payload @2 :Data;
}

# The consumer can hold `credits` more buffers of the channel.
struct Credit {
  channel @0 :ChannelId;
  credits @1 :UInt32;
}

# One end gives the channel up before the stream completed (cancelled, failed or released).
struct CloseChannel {
  channel @0 :ChannelId;
  fromProducer @1 :Bool;
  reason @2 :Text;
}

struct Message {
  union {
    hello @0 :Hello;
    requestChannel @1 :RequestChannel;
    dataBuffer @2 :DataBuffer;
    credit @3 :Credit;
    closeChannel @4 :CloseChannel;
  }
}
