package main

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// fencedPut writes val to key only if no write with a greater token has
// been made to it: key+".fence" holds the greatest token written so far,
// zero-padded so that etcd's comparison of values (bytes) orders tokens as
// numbers. It reports whether the write was made. docs/replicas.md shows
// the same function.
func fencedPut(ctx context.Context, c *clientv3.Client, token int64, key, val string) (bool, error) {
	fence, tok := key+".fence", fmt.Sprintf("%020d", token)
	above := fmt.Sprintf("%020d", token+1) // etcd compares with =, !=, < and >: "< token+1" is "<= token"
	write := []clientv3.Op{clientv3.OpPut(fence, tok), clientv3.OpPut(key, val)}
	resp, err := c.Txn(ctx).
		If(clientv3.Compare(clientv3.Version(fence), "=", 0)). // the first write
		Then(write...).
		Else(clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.Value(fence), "<", above)}, write, nil)).
		Commit()
	if err != nil {
		return false, err
	}
	return resp.Succeeded || resp.Responses[0].GetResponseTxn().Succeeded, nil
}
