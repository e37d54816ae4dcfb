package e2ee

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// adLabel starts every associated data encoding, so that the bytes can never
// be mistaken for another protocol's or another version's.
const adLabel = "agentchat/e2ee/v1/ad"

// AssociatedData is what an envelope is bound to without carrying it: the
// server knows these from the event around the envelope, and a recipient
// takes them from there too (SenderDevice is the device the connector
// authenticated, never a claim inside the content). Opening with any other
// values fails, so an envelope cannot be replayed into another conversation,
// under another sender device, or as another message of the same sender.
type AssociatedData struct {
	Conversation    string
	SenderDevice    string
	ClientMessageID string
}

// Bytes is the canonical encoding, fed as GCM associated data both to the
// content and to every wrapped key:
//
//	"agentchat/e2ee/v1/ad"               20 bytes ASCII
//	uint32 big-endian len || Conversation     (UTF-8 bytes)
//	uint32 big-endian len || SenderDevice
//	uint32 big-endian len || ClientMessageID
//
// Every field is length-prefixed, so no two different values encode alike.
func (a AssociatedData) Bytes() []byte {
	b := make([]byte, 0, len(adLabel)+12+len(a.Conversation)+len(a.SenderDevice)+len(a.ClientMessageID))
	b = append(b, adLabel...)
	for _, f := range []string{a.Conversation, a.SenderDevice, a.ClientMessageID} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

// check is what Seal requires: every field set.
func (a AssociatedData) check() error {
	if a.Conversation == "" || a.SenderDevice == "" || a.ClientMessageID == "" {
		return fmt.Errorf("%w: conversation, sender device and client message id are required", ErrAssociatedData)
	}
	return nil
}

// PartialAD is the associated data of a streamed agent partial (an ephemeral
// chunk, never stored): the index-th chunk of the agent device's reply to the
// message with seq replyTo. Its ClientMessageID, "partial/<replyTo>/<index>",
// contains '/', which no stored message's client message id may (see
// events.ValidID), so a partial can never be replayed as a stored message, nor
// as another chunk.
func PartialAD(conversation, agentDevice string, replyTo int64, index int) AssociatedData {
	return AssociatedData{
		Conversation:    conversation,
		SenderDevice:    agentDevice,
		ClientMessageID: "partial/" + strconv.FormatInt(replyTo, 10) + "/" + strconv.Itoa(index),
	}
}
