// Package recommendations runs the recommendation processors
// (processors/recommendations) as three goka groups, each keyed by what its
// state is about:
//
//	titan.recommendations.views (storefront, by user)
//	  -> titan-recs-users: the user's recent history; a view emits a pair
//	     with each other item of the session, both ways
//	titan.orders.outcomes (the order saga, by order)
//	  -> titan-recs-orders: a confirmed order's basket; each item bought
//	     emits a pair with each other item of the order, both ways, and a
//	     purchase to the buyer's history (titan.recommendations.purchases)
//	titan.recommendations.pairs (by item)
//	  -> titan-recs-items: the item's neighbors with decayed co-view and
//	     co-purchase scores, kept in top-K order, each under keys of its
//	     own beside the item's head (store.go), so that a pair rewrites
//	     the head and one neighbor, not the list
//
// What one input makes for one item travels as one record
// (recommendations.PairRecords): a view of c in a session of a and b sends
// c its pairs with a and b together, and a and b one each. The item counts
// a record's pairs in order, each reading the neighbors the one before it
// wrote, and writes its head once, naming every neighbor write of the
// record; those follow the head to the changelog (countPairs), so the
// changelog never holds a neighbor write that no head before it names.
//
// Each pair carries the place of the record that made it, and an item keeps
// the highest place per sender partition, so pairs sent again after a crash
// are counted once. The API reads the items and users tables through views
// and filters out what the inventory shows unavailable.
package recommendationstopo
