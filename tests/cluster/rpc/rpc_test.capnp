# Messages the rpc tests send through the transport, which does not care what they are.
@0xd2401994bb8aef7e;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("brook::rpc::test");

struct TestMessage {
  sender @0 :UInt32;    # which sending thread
  sequence @1 :UInt64;  # 0, 1, 2, ... per sender
  blob @2 :Data;
}
