// Titan's producer SDK for Node: the records a shop's services send to Titan, validated by the
// rules Titan's processors apply, keyed and partitioned as they read them, and encoded from the
// same .proto files as the Go SDK (sdk/). See README.md.

export { Producer, DefaultClientID, type Ack, type ProducerOptions } from "./producer.js";
export { InvalidError, OptionError, ClosedError, Reason } from "./errors.js";
export { partition, murmur2 } from "./partition.js";
export { Topics, namespaced, checkTopic, type TopicName } from "./topics.js";
export { MaxIDBytes, ReservedPrefix, DerivedPrefix, deriveId, validID, reserved } from "./ids.js";
export {
  Limits,
  validateCommand,
  validateOrderEvent,
  validatePricingCommand,
  validateViewEvent,
  checkPurchase,
} from "./validate.js";
export * as records from "./records.js";
export * as inventoryv1 from "./gen/titan/inventory/v1/inventory_pb.js";
export * as ordersv1 from "./gen/titan/orders/v1/orders_pb.js";
export * as pricingv1 from "./gen/titan/pricing/v1/pricing_pb.js";
export * as flashsalev1 from "./gen/titan/flashsale/v1/flashsale_pb.js";
export * as recommendationsv1 from "./gen/titan/recommendations/v1/recommendations_pb.js";
