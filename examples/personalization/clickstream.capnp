# The clickstream event schema: Brook's schema registry for the personalization pipeline.
# Evolve by Cap'n Proto's rules: add fields at the end with new ordinals, never renumber.
@0x8fc69a8510f471f6;

struct ClickEvent {
  userId @0 :UInt64;
  sessionId @1 :UInt64;
  eventId @2 :UInt64;
  timestamp @3 :Int64;         # event time, milliseconds since the epoch
  eventType @4 :EventType;
  itemId @5 :UInt64;
  category @6 :Text;
  device @7 :Device;
  price @8 :Float64;           # in the shop's currency, > 0

  enum EventType {
    view @0;
    click @1;
    addToCart @2;
    purchase @3;
  }

  enum Device {
    desktop @0;
    mobile @1;
    tablet @2;
  }
}
