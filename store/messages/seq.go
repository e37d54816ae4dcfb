package messages

// SearchLastSeq finds a conversation's newest seq with lookups of single
// seqs: has(k) must be true exactly for 1 <= k <= last, which holds because
// seqs are gapless and never deleted. lo is a seq known to exist (0: none
// known), hi one known not to (<= 0: none known). It gallops up from lo
// until a seq is missing, then bisects: about 2·log2(last-lo) lookups, one
// when lo is still the last. Mongo.LastSeq uses it on FerretDB, where a
// sorted query would not use an index (docs/data.md).
func SearchLastSeq(lo, hi int64, has func(seq int64) (bool, error)) (int64, error) {
	if hi <= 0 {
		for step := int64(1); ; step *= 2 {
			ok, err := has(lo + step)
			if err != nil {
				return 0, err
			}
			if !ok {
				hi = lo + step
				break
			}
			lo += step
		}
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		ok, err := has(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}
