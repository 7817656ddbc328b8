package flashsale

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/titan-commerce/titan/internal/partition"
)

// The keys of a sale, and of an attempt's result, are part of the
// contract between the API, the SDKs and the topology: they decide the
// partition a record lands in, so they are named here, once.

// SaleKey is the sale's own key.
func SaleKey(saleID string) string { return "s:" + saleID }

// UserKey is a buyer's key in a sale.
func UserKey(saleID, userID string) string { return "u:" + saleID + ":" + userID }

// PurchaseKey is the key of an attempt's result: the sale and the
// attempt's idempotency key.
func PurchaseKey(saleID, idempotencyKey string) string { return saleID + "/" + idempotencyKey }

// BucketOf is the bucket a buyer belongs to in a sale with n buckets.
func BucketOf(userID string, n int) int {
	return int(partition.Partition([]byte(userID), int32(n)))
}

// KeyKind tells which kind of key k is: 's' (a sale's), 'b' (a bucket's),
// 'u' (a buyer's), or 0 for none of them.
func KeyKind(k string) byte {
	if len(k) < 2 || k[1] != ':' || !strings.ContainsRune("sbu", rune(k[0])) {
		return 0
	}
	return k[0]
}

// Keys names the keys of every sale for topics with a given partition
// count: the Router of a deployment.
type Keys struct {
	partitions int32
	buckets    sync.Map // "<sale>\x00<bucket>" -> key
}

// NewKeys returns the router for topics with the given partitions.
func NewKeys(partitions int32) *Keys { return &Keys{partitions: partitions} }

// Sale is the sale key.
func (r *Keys) Sale(saleID string) string { return SaleKey(saleID) }

// User is a buyer's key.
func (r *Keys) User(saleID, userID string) string { return UserKey(saleID, userID) }

// Bucket is bucket b's key: the first salt that lands it b partitions
// after the sale key, so a sale's buckets spread over as many partitions
// as there are buckets, up to the partition count.
func (r *Keys) Bucket(saleID string, b int) string {
	cacheKey := saleID + "\x00" + strconv.Itoa(b)
	if k, ok := r.buckets.Load(cacheKey); ok {
		return k.(string)
	}
	target := (partition.Partition([]byte(r.Sale(saleID)), r.partitions) + int32(b)) % r.partitions
	key := fmt.Sprintf("b:%s:%d:0", saleID, b)
	for salt := 0; salt < 100*int(r.partitions); salt++ {
		k := fmt.Sprintf("b:%s:%d:%d", saleID, b, salt)
		if partition.Partition([]byte(k), r.partitions) == target {
			key = k
			break
		}
	}
	r.buckets.Store(cacheKey, key)
	return key
}
