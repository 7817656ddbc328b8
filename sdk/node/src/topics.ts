// The public topics a shop's services write, as schemas/topics.go names them. The names are part
// of the wire contract; a deployment may put them in a namespace ("<namespace>.<name>").

export const Topics = {
  /** inventory.v1.Command, keyed by sku. */
  inventoryCommands: "titan.inventory.commands",
  /** orders.v1.OrderEvent, keyed by order_id. */
  orderEvents: "titan.orders.events",
  /** pricing.v1.Command, keyed by sku. */
  pricingCommands: "titan.pricing.commands",
  /** flashsale.v1.Message, keyed by the message's key: the buyer's key for a purchase. */
  flashSaleCommands: "titan.flashsale.commands",
  /** recommendations.v1.ViewEvent, keyed by user_id. */
  recommendationViews: "titan.recommendations.views",
} as const;

export type TopicName = (typeof Topics)[keyof typeof Topics];

/** namespaced is name in a deployment's namespace, as schemas.Namespaced gives it. */
export function namespaced(namespace: string, name: string): string {
  return namespace === "" ? name : `${namespace}.${name}`;
}

/**
 * checkTopic applies Kafka's rules for a topic name (schemas.CheckTopic): 1 to 249 bytes of
 * [a-zA-Z0-9._-], and not "." or "..". It returns what is wrong, or undefined.
 */
export function checkTopic(name: string): string | undefined {
  if (name === "") return "empty";
  if (name.length > 249) return `${JSON.stringify(name.slice(0, 20))}... is longer than 249 bytes`;
  if (name === "." || name === "..") return `${JSON.stringify(name)} is reserved`;
  const bad = /[^a-zA-Z0-9._-]/.exec(name);
  if (bad) return `${JSON.stringify(name)} has ${JSON.stringify(bad[0])}, outside [a-zA-Z0-9._-]`;
  return undefined;
}
