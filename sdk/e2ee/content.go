package e2ee

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Content is what clients put inside an envelope: JSON, then Seal. The
// server never sees it. Unknown fields are ignored when reading, so newer
// clients can add fields that older ones skip.
type Content struct {
	Text    string `json:"text"`
	Media   *Media `json:"media,omitempty"`
	ReplyTo int64  `json:"replyTo,omitempty"` // seq of the message answered (a reply, quoted by clients); 0 for none

	// At most one of these makes the content an action on the message
	// at its ref rather than a message (actions.go): no text, media or
	// replyTo then.
	Edit   *Edit     `json:"edit,omitempty"`
	Delete *Delete   `json:"delete,omitempty"`
	React  *Reaction `json:"react,omitempty"`

	// SenderKey makes the message a sender key distribution (in a v1
	// envelope): clients take the key and show nothing; agents ignore it.
	SenderKey *SenderKeyDistribution `json:"senderKey,omitempty"`
}

// Media describes an attachment uploaded separately (SealMedia, then the
// media function's presigned PUT). Its key travels only in here, so the
// store holds only ciphertext.
type Media struct {
	ID     string `json:"id"`               // media id, as in the upload events
	Type   string `json:"type"`             // MIME type of the plaintext, e.g. image/jpeg
	Size   int64  `json:"size"`             // plaintext bytes
	Key    []byte `json:"key"`              // 32-byte AES-256-GCM key of the blob (base64 in JSON)
	SHA256 string `json:"sha256"`           // hex SHA-256 of the encrypted blob, as uploaded
	Name   string `json:"name,omitempty"`   // file name, if the sender shares it
	Width  int    `json:"width,omitempty"`  // pixels, for images and video
	Height int    `json:"height,omitempty"` // pixels, for images and video
	// Thumbnail is an optional small preview (e.g. a JPEG of an image or a
	// video's first frame) made on the sender's device; it is encrypted
	// with the rest of the content, at most MaxThumbnail bytes.
	Thumbnail []byte `json:"thumbnail,omitempty"`
}

// MaxThumbnail caps Media.Thumbnail, so that a content with one stays well
// inside MaxCiphertext.
const MaxThumbnail = 16 << 10

// Marshal is the JSON a client seals: compact, HTML characters unescaped
// (as JavaScript's JSON.stringify writes them).
func (c Content) Marshal() ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("e2ee: content: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// UnmarshalContent reads what Open returned. The sender is authenticated
// only as far as the envelope is; the fields are still checked, since any
// member's buggy client can send anything.
func UnmarshalContent(b []byte) (Content, error) {
	var c Content
	if err := json.Unmarshal(b, &c); err != nil {
		return Content{}, fmt.Errorf("e2ee: content: %w", err)
	}
	if err := c.check(); err != nil {
		return Content{}, err
	}
	return c, nil
}

func (c Content) check() error {
	switch {
	case !utf8.ValidString(c.Text):
		return fmt.Errorf("e2ee: content: text is not UTF-8")
	case c.ReplyTo < 0:
		return fmt.Errorf("e2ee: content: negative replyTo")
	case c.SenderKey != nil:
		if err := c.SenderKey.check(); err != nil {
			return err
		}
	}
	if err := c.checkAction(); err != nil {
		return err
	}
	switch {
	case c.Media == nil:
		return nil
	case c.Media.ID == "" || c.Media.Type == "":
		return fmt.Errorf("e2ee: content: media needs id and type")
	case len(c.Media.Key) != mediaKeySize:
		return fmt.Errorf("e2ee: content: media key must be %d bytes", mediaKeySize)
	case c.Media.Size < 0 || c.Media.Width < 0 || c.Media.Height < 0:
		return fmt.Errorf("e2ee: content: negative media size")
	case len(c.Media.Thumbnail) > MaxThumbnail:
		return fmt.Errorf("e2ee: content: thumbnail over %d bytes", MaxThumbnail)
	}
	return nil
}
