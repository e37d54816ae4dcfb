package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// Media: a file travels as an encrypted blob in the media store (S3), and
// as an ordinary end-to-end encrypted message whose content's Media
// (e2ee.Media: blob id, key, digest, name, MIME type, size, optional
// thumbnail) says how to fetch and open it. The blob's bytes go between
// this client and S3 through presigned URLs only; the connector and the
// functions see sizes, digests and ids.
//
//	m, id, err := c.SendFile(ctx, conv, data, client.File{Name: "cat.jpg", Type: "image/jpeg"})
//	...
//	case *client.Message: // with e.Content.Media != nil
//		data, err := c.Download(ctx, e.Conversation, e.Content.Media)

// File describes a file for SendFile: what goes into the message's
// encrypted content besides the blob's reference and key.
type File struct {
	Name string // file name shown to the members ("" to keep it private)
	Type string // MIME type of the plaintext, e.g. image/jpeg; default application/octet-stream
	// Kind is the coarse kind the server sees (image, video, audio or
	// file); default from Type.
	Kind          string
	Width, Height int    // pixels, for images and video
	Thumbnail     []byte // a small preview (e2ee.MaxThumbnail), made on this device; inside the sealed content
	Caption       string // the message's text
}

// UploadGrant is media's answer to an upload request: PUT the blob to URL
// with Headers before ExpiresAt. A blob over media's multipart threshold
// gets Parts instead of URL: each consecutive slice of the blob of a
// part's Size goes to that part's URL (Put does either).
type UploadGrant struct {
	MediaID   string
	URL       string
	Parts     []protocol.Part // url and size of each part, in order
	Headers   map[string]string
	ExpiresAt time.Time
}

// DownloadGrant is media's answer to a download request: GET URL before
// ExpiresAt; the blob has Size bytes and digest SHA256 as stored.
type DownloadGrant struct {
	MediaID   string
	URL       string
	ExpiresAt time.Time
	Size      int64
	SHA256    string
}

// StoreError is the media store's (S3's) refusal of a PUT or GET through
// a presigned URL: an expired URL, a body that is not the size and
// digest the URL was signed for, a missing object.
type StoreError struct {
	Status  int    // HTTP status
	Code    string // S3's error code, e.g. AccessDenied, SignatureDoesNotMatch
	Message string // S3's message, e.g. "Request has expired"
}

func (e *StoreError) Error() string {
	return fmt.Sprintf("client: media store refused: %d %s: %s", e.Status, e.Code, e.Message)
}

// Expired reports whether the URL had expired: ask for a new one.
func (e *StoreError) Expired() bool {
	return e.Status == http.StatusForbidden && strings.Contains(strings.ToLower(e.Message), "expired")
}

// ErrMediaDigest is returned by Download when the fetched blob's SHA-256
// is not the one in the (signed) message: the blob was swapped.
var ErrMediaDigest = errors.New("client: media: the blob's sha256 is not the message's")

// SendFile encrypts data under a fresh key (e2ee.SealMedia), uploads the
// blob (RequestUpload, a PUT to the presigned URL — or, for a blob over
// media's multipart threshold, one PUT per part —, CompleteUpload), and
// once media has confirmed it is stored sends an ordinary message into
// conversation whose content carries the blob's id, key and digest and
// f's description. It returns that content's Media and the message's
// client message id (its Status events follow as for Send). When any step
// is refused — not a member, too large, the store refused the upload —
// no message is sent.
func (c *Client) SendFile(ctx context.Context, conversation string, data []byte, f File) (*e2ee.Media, string, error) {
	if c.keys == nil {
		return nil, "", fmt.Errorf("client: send file: no Directory configured")
	}
	if f.Type == "" {
		f.Type = "application/octet-stream"
	}
	if f.Kind == "" {
		f.Kind = mediaKind(f.Type)
	}
	sealed, err := e2ee.SealMedia(data)
	if err != nil {
		return nil, "", fmt.Errorf("client: send file: %w", err)
	}
	id := newMediaID()
	size := int64(len(sealed.Blob))
	grant, err := c.RequestUpload(ctx, conversation, id, size, sealed.SHA256, f.Kind)
	if err != nil {
		return nil, "", err
	}
	// A large upload may outlive its URLs: ask again (media hands out
	// fresh URLs for the same upload) and go on where it stopped.
	renew := func() (*UploadGrant, error) {
		return c.RequestUpload(ctx, conversation, id, size, sealed.SHA256, f.Kind)
	}
	parts, err := c.put(ctx, grant, sealed.Blob, renew)
	if err != nil {
		return nil, "", err
	}
	if err := c.CompleteUpload(ctx, conversation, id, size, sealed.SHA256, parts...); err != nil {
		return nil, "", err
	}
	m := &e2ee.Media{ID: id, Type: f.Type, Size: int64(len(data)), Key: sealed.Key, SHA256: sealed.SHA256,
		Name: f.Name, Width: f.Width, Height: f.Height, Thumbnail: f.Thumbnail}
	msgID, err := c.Send(ctx, conversation, e2ee.Content{Text: f.Caption, Media: m})
	if err != nil {
		return nil, "", err
	}
	return m, msgID, nil
}

// Download fetches the blob m describes from conversation (a member's
// RequestDownload, then a GET of the presigned URL), checks it against
// the digest in m (which the sender signed with the message) and decrypts
// it. When the store says the URL expired before the GET (a slow network,
// a clock ahead of the store's), it asks for a new URL once; a second
// expiry is returned as a *StoreError with Expired true.
func (c *Client) Download(ctx context.Context, conversation string, m *e2ee.Media) ([]byte, error) {
	if m == nil {
		return nil, errors.New("client: download: no media")
	}
	var blob []byte
	for try := 0; ; try++ {
		grant, err := c.RequestDownload(ctx, conversation, m.ID)
		if err != nil {
			return nil, err
		}
		// The signed message says how long the blob is: the store is
		// not asked for (nor a buffer made of) any other size.
		if m.Size > 0 && grant.Size != m.Size+e2ee.MediaOverhead {
			return nil, fmt.Errorf("client: download: the store holds %d bytes, the message's file seals to %d", grant.Size, m.Size+e2ee.MediaOverhead)
		}
		blob, err = c.Get(ctx, grant)
		var se *StoreError
		if errors.As(err, &se) && se.Expired() && try == 0 {
			continue
		}
		if err != nil {
			return nil, err
		}
		break
	}
	sum := sha256.Sum256(blob)
	if hex.EncodeToString(sum[:]) != m.SHA256 {
		return nil, ErrMediaDigest
	}
	data, err := e2ee.OpenMedia(blob, m.Key)
	if err != nil {
		return nil, fmt.Errorf("client: download: %w", err)
	}
	if m.Size > 0 && int64(len(data)) != m.Size {
		return nil, fmt.Errorf("client: download: %d bytes, the message says %d", len(data), m.Size)
	}
	return data, nil
}

// RequestUpload asks media for a URL to upload size bytes (the encrypted
// blob) whose SHA-256 is sha256Hex, under mediaID in conversation. A
// refusal is a *protocol.Error (not_member, media_too_large,
// media_mismatch, bad_frame).
func (c *Client) RequestUpload(ctx context.Context, conversation, mediaID string, size int64, sha256Hex, kind string) (*UploadGrant, error) {
	f, err := c.mediaRequest(ctx, protocol.Frame{Type: protocol.TypeUpload, ID: mediaID, Conversation: conversation,
		Size: size, SHA256: sha256Hex, Kind: kind}, protocol.MediaUpload)
	if err != nil {
		return nil, err
	}
	return &UploadGrant{MediaID: mediaID, URL: f.URL, Parts: f.Parts, Headers: f.Headers, ExpiresAt: f.ExpiresAt}, nil
}

// CompleteUpload tells media the upload of mediaID is done and waits until
// it has checked the stored object against size and sha256Hex. After an
// upload in parts, parts are the hex SHA-256 of each part, in order (what
// PutParts returns): media completes the upload only with exactly those.
func (c *Client) CompleteUpload(ctx context.Context, conversation, mediaID string, size int64, sha256Hex string, parts ...string) error {
	fr := protocol.Frame{Type: protocol.TypeUploaded, ID: mediaID, Conversation: conversation, Size: size, SHA256: sha256Hex}
	for _, p := range parts {
		fr.Parts = append(fr.Parts, protocol.Part{SHA256: p})
	}
	f, err := c.mediaRequest(ctx, fr, protocol.MediaStored)
	if err != nil {
		return err
	}
	if f.Size != size || f.SHA256 != sha256Hex {
		return fmt.Errorf("client: upload: media stored %d bytes with sha256 %s, not what was uploaded", f.Size, f.SHA256)
	}
	return nil
}

// RequestDownload asks media for a short-lived URL to fetch mediaID of
// conversation; a refusal is a *protocol.Error (not_member,
// media_not_found).
func (c *Client) RequestDownload(ctx context.Context, conversation, mediaID string) (*DownloadGrant, error) {
	f, err := c.mediaRequest(ctx, protocol.Frame{Type: protocol.TypeDownload, ID: mediaID, Conversation: conversation},
		protocol.MediaDownload)
	if err != nil {
		return nil, err
	}
	return &DownloadGrant{MediaID: mediaID, URL: f.URL, ExpiresAt: f.ExpiresAt, Size: f.Size, SHA256: f.SHA256}, nil
}

// Put uploads blob through an upload grant of one URL. A grant in parts
// needs PutParts, whose digests CompleteUpload declares.
func (c *Client) Put(ctx context.Context, g *UploadGrant, blob []byte) error {
	if len(g.Parts) > 0 {
		return errors.New("client: upload: the grant is in parts: use PutParts")
	}
	return c.putOne(ctx, g.URL, g.Headers, blob)
}

// PutParts uploads blob through an upload grant in parts: each part with
// the x-amz-checksum-sha256 of its bytes, which S3 requires and checks.
// It returns the hex SHA-256 of each part, in order, for CompleteUpload.
func (c *Client) PutParts(ctx context.Context, g *UploadGrant, blob []byte) ([]string, error) {
	if len(g.Parts) == 0 {
		return nil, errors.New("client: upload: the grant is one URL: use Put")
	}
	return c.put(ctx, g, blob, nil)
}

// put uploads blob through g, in one PUT or in parts, and returns the
// parts' digests (none for one PUT). When renew is set, a URL found
// expired is renewed through it once per part, and the upload goes on
// from that part (media's new URLs are for the same upload).
func (c *Client) put(ctx context.Context, g *UploadGrant, blob []byte, renew func() (*UploadGrant, error)) ([]string, error) {
	if len(g.Parts) == 0 {
		err := c.putOne(ctx, g.URL, g.Headers, blob)
		var se *StoreError
		if renew != nil && errors.As(err, &se) && se.Expired() {
			if g, err = renew(); err == nil {
				return c.put(ctx, g, blob, nil)
			}
		}
		return nil, err
	}
	var sums []string
	off := int64(0)
	for i := 0; i < len(g.Parts); i++ {
		p := g.Parts[i]
		if p.Size < 1 || off+p.Size > int64(len(blob)) {
			return nil, fmt.Errorf("client: upload: part %d of %d bytes does not fit the %d-byte blob", i+1, p.Size, len(blob))
		}
		part := blob[off : off+p.Size]
		sum := sha256.Sum256(part)
		h := map[string]string{checksumHeader: base64.StdEncoding.EncodeToString(sum[:])}
		for k, v := range g.Headers {
			h[k] = v
		}
		err := c.putOne(ctx, p.URL, h, part)
		var se *StoreError
		if renew != nil && errors.As(err, &se) && se.Expired() {
			ng, rerr := renew()
			if rerr != nil {
				return nil, rerr
			}
			if len(ng.Parts) != len(g.Parts) {
				return nil, fmt.Errorf("client: upload: renewed in %d parts, was %d", len(ng.Parts), len(g.Parts))
			}
			g, err = ng, c.putOne(ctx, ng.Parts[i].URL, h, part)
		}
		if err != nil {
			return nil, err
		}
		sums = append(sums, hex.EncodeToString(sum[:]))
		off += p.Size
	}
	if off != int64(len(blob)) {
		return nil, fmt.Errorf("client: upload: the parts cover %d bytes of %d", off, len(blob))
	}
	return sums, nil
}

// checksumHeader carries a body's base64 SHA-256 to S3.
const checksumHeader = "X-Amz-Checksum-Sha256"

// putOne PUTs body to a presigned URL with headers.
func (c *Client) putOne(ctx context.Context, url string, headers map[string]string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("client: upload: %w", err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("client: upload: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return storeError(resp)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

// Get fetches a blob through a download grant: exactly the grant's size,
// at most events.MaxMediaSize. The blob is read into one buffer of that
// size rather than grown as it arrives (io.ReadAll, which copies it over
// and over): 2–2.5× faster for a 16 MiB blob, BenchmarkGet. A response of
// any other length — a Content-Length that is not the grant's, a body
// that ends early or goes on past it — is an error, never a longer or
// shorter blob.
func (c *Client) Get(ctx context.Context, g *DownloadGrant) ([]byte, error) {
	if g.Size < 0 || g.Size > events.MaxMediaSize {
		return nil, fmt.Errorf("client: download: a grant of %d bytes, want 0..%d", g.Size, int64(events.MaxMediaSize))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("client: download: %w", err)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, storeError(resp)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != g.Size { // -1: unknown (chunked), checked as it is read
		return nil, fmt.Errorf("client: download: the store sends %d bytes, want %d", resp.ContentLength, g.Size)
	}
	blob := make([]byte, g.Size)
	if n, err := io.ReadFull(resp.Body, blob); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("client: download: %d bytes, want %d", n, g.Size)
		}
		return nil, fmt.Errorf("client: download: %w", err)
	}
	var more [1]byte
	if n, _ := io.ReadFull(resp.Body, more[:]); n > 0 {
		return nil, fmt.Errorf("client: download: the store sends more than %d bytes", g.Size)
	}
	return blob, nil
}

// storeError reads S3's XML error body (bounded) into a *StoreError.
func storeError(resp *http.Response) error {
	var body struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	_ = xml.NewDecoder(io.LimitReader(resp.Body, 16<<10)).Decode(&body)
	return &StoreError{Status: resp.StatusCode, Code: body.Code, Message: body.Message}
}

// mediaRequest writes f (a media request naming a media id) and waits for
// the media frame of kind want about that id, or an error frame about it.
// It writes f again every ResendInterval while no answer came (the socket
// may have been replaced): media answers a repeated request the same way.
// It gives up when ctx ends, or when the client will not reconnect (this
// device connected elsewhere, or was revoked).
func (c *Client) mediaRequest(ctx context.Context, f protocol.Frame, want string) (protocol.Frame, error) {
	if !validID(f.ID) || !validID(f.Conversation) {
		return protocol.Frame{}, fmt.Errorf("client: media: bad media id %q or conversation %q", f.ID, f.Conversation)
	}
	w := &mediaWait{want: want, ch: make(chan protocol.Frame, 1)}
	if err := c.do(func() {
		c.s.media[f.ID] = append(c.s.media[f.ID], w)
		c.write(f)
	}); err != nil {
		return protocol.Frame{}, err
	}
	defer c.do(func() { c.dropMediaWait(f.ID, w) })
	t := time.NewTicker(c.cfg.ResendInterval)
	defer t.Stop()
	for {
		select {
		case a := <-w.ch:
			if a.Type == protocol.TypeError {
				return a, &protocol.Error{Code: a.Code, Message: a.Message, Ref: a.ID}
			}
			return a, nil
		case <-t.C:
			fatal, err := query(c, func() bool {
				c.write(f)
				return c.s.fatal
			})
			if err != nil {
				return protocol.Frame{}, err
			}
			if fatal { // replaced elsewhere or revoked: no socket will come back
				return protocol.Frame{}, fmt.Errorf("client: media %s: the connection ended for good (replaced or revoked)", f.Type)
			}
		case <-ctx.Done():
			return protocol.Frame{}, fmt.Errorf("client: media %s: %w", f.Type, ctx.Err())
		case <-c.done:
			return protocol.Frame{}, ErrClosed
		}
	}
}

// mediaWait is one media request waiting for its answer (on the loop's
// state, by media id).
type mediaWait struct {
	want string              // the media frame's kind that answers it
	ch   chan protocol.Frame // buffered 1: the loop never blocks on it
}

// mediaAnswer hands a media frame, or an error frame about a media id, to
// the requests waiting for it; it reports whether any took it.
func (c *Client) mediaAnswer(f protocol.Frame) bool {
	took := false
	for _, w := range c.s.media[f.ID] {
		if f.Type == protocol.TypeError || f.Kind == w.want {
			select {
			case w.ch <- f:
			default: // answered already (a repeated request's answer)
			}
			took = true
		}
	}
	return took
}

func (c *Client) dropMediaWait(id string, w *mediaWait) {
	ws := c.s.media[id]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(c.s.media, id)
		return
	}
	c.s.media[id] = ws
}

// newMediaID is a media id: "m" and 128 random bits in hex (the object's
// name in the store, unguessable like a message id).
func newMediaID() string { return "m" + newMessageID() }

// mediaKind is the coarse kind (events.MediaKinds) of a MIME type.
func mediaKind(mime string) string {
	for _, k := range []string{"image", "video", "audio"} {
		if strings.HasPrefix(mime, k+"/") {
			return k
		}
	}
	return "file"
}
