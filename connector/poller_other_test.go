//go:build !linux

package connector

func (p *poller) watching(uint64) bool { return false }
