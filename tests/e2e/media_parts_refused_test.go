package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// TestMediaPartsRefused: TestMedia's refusals for an upload in parts
// (over the multipart threshold, lowered to S3's smallest part), through
// the platform and the real MinIO: a non-member asking for an upload or
// claiming one done; a part longer than its URL was signed for; a part
// with another checksum than its bytes', or none; an expired part URL; a
// completion that names parts the store does not hold, or holds in
// another order — each refused with a clear error, leaving no message and
// no object. And what the server cannot check: no S3 computes the SHA-256
// of a whole multipart object, so an upload whose parts are right but
// whose declared whole digest is not is stored, and refused by the
// recipient (ErrMediaDigest against the sender's message) before
// decrypting.
func TestMediaPartsRefused(t *testing.T) {
	const threshold = 5 << 20
	e := start(t, opts{functions: mediaFunctions, envFor: map[string]map[string]string{"media": {
		"MEDIA_MULTIPART_THRESHOLD": strconv.Itoa(threshold), "MEDIA_PART_SIZE": strconv.Itoa(threshold),
		"MEDIA_URL_EXPIRY": mediaURLExpiry.String(),
	}}})
	if e.s3.Bucket == "" {
		testenv.Missing(t, "media needs the test S3 service ("+testenv.EnvS3Endpoint+")")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	alice, bob, eve := signup(t, e, "alice"), signup(t, e, "bob"), signup(t, e, "eve")
	ca, cb, ce := alice.dial(t, e), bob.dial(t, e), eve.dial(t, e)
	wb := watch(cb)
	watch(ca)
	watch(ce)
	conv, err := alice.sess.CreateConversation(ctx, "direct", []string{alice.id, bob.id}, "")
	if err != nil {
		t.Fatal(err)
	}
	before := e.countMessages(t)
	objects := bucketKeys(t, e)

	blob := randomBytes(t, threshold+4096) // two parts: 5 MiB and 4 KiB
	whole := hexSHA256(blob)
	part1, part2 := blob[:threshold], blob[threshold:]
	sum1, sum2 := sha256.Sum256(part1), sha256.Sum256(part2)
	// one PUTs body to a single part's URL with a checksum header (nil:
	// none): Put of a grant of that one URL.
	one := func(url string, checksum []byte, body []byte) error {
		h := map[string]string{}
		if checksum != nil {
			h["X-Amz-Checksum-Sha256"] = base64.StdEncoding.EncodeToString(checksum)
		}
		return ca.Put(ctx, &client.UploadGrant{URL: url, Headers: h}, body)
	}
	grant := func(id string) *client.UploadGrant {
		t.Helper()
		g, err := ca.RequestUpload(ctx, conv.ID, id, int64(len(blob)), whole, "video")
		if err != nil {
			t.Fatal(err)
		}
		if g.URL != "" || len(g.Parts) != 2 || g.Parts[0].Size != threshold || g.Parts[1].Size != 4096 {
			t.Fatalf("grant: url %q, parts %+v; want 2 parts of 5 MiB and 4 KiB", g.URL, g.Parts)
		}
		return g
	}

	t.Run("non-member asks for an upload in parts", func(t *testing.T) {
		_, err := ce.RequestUpload(ctx, conv.ID, "m-eve-big", int64(len(blob)), whole, "video")
		wantCode(t, err, protocol.CodeNotMember)
		wantCode(t, ce.CompleteUpload(ctx, conv.ID, "m-eve-big", int64(len(blob)), whole, hex.EncodeToString(sum1[:]), hex.EncodeToString(sum2[:])), protocol.CodeNotMember)
	})
	t.Run("part larger than its URL", func(t *testing.T) {
		g := grant("m-part-longer")
		longer := append(slices.Clone(part1), 0)
		sum := sha256.Sum256(longer)
		wantStoreError(t, one(g.Parts[0].URL, sum[:], longer), http.StatusForbidden, false)
		if err := one(g.Parts[1].URL, sum2[:], part2); err != nil {
			t.Fatal(err)
		}
		wantCode(t, ca.CompleteUpload(ctx, conv.ID, "m-part-longer", int64(len(blob)), whole,
			hex.EncodeToString(sum[:]), hex.EncodeToString(sum2[:])), protocol.CodeMediaMismatch)
	})
	t.Run("part with another checksum", func(t *testing.T) {
		g := grant("m-part-other")
		other := slices.Clone(part1)
		other[0] ^= 1
		wantStoreError(t, one(g.Parts[0].URL, sum1[:], other), http.StatusBadRequest, false)
		if err := one(g.Parts[0].URL, nil, part1); err == nil {
			t.Error("a part without its checksum header was taken")
		}
		if err := one(g.Parts[1].URL, sum2[:], part2); err != nil {
			t.Fatal(err)
		}
		// Part 1 never got in: naming its digest completes nothing.
		wantCode(t, ca.CompleteUpload(ctx, conv.ID, "m-part-other", int64(len(blob)), whole,
			hex.EncodeToString(sum1[:]), hex.EncodeToString(sum2[:])), protocol.CodeMediaMismatch)
	})
	t.Run("parts named in another order", func(t *testing.T) {
		g := grant("m-part-order")
		parts, err := ca.PutParts(ctx, g, blob)
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, ca.CompleteUpload(ctx, conv.ID, "m-part-order", int64(len(blob)), whole, parts[1], parts[0]), protocol.CodeMediaMismatch)
		wantCode(t, ca.CompleteUpload(ctx, conv.ID, "m-part-order", int64(len(blob)), whole, parts[0]), protocol.CodeMediaMismatch)
	})
	t.Run("expired part URL", func(t *testing.T) {
		g := grant("m-part-late")
		waitPast(t, g.ExpiresAt)
		wantStoreError(t, one(g.Parts[0].URL, sum1[:], part1), http.StatusForbidden, true)
		wantCode(t, ca.CompleteUpload(ctx, conv.ID, "m-part-late", int64(len(blob)), whole,
			hex.EncodeToString(sum1[:]), hex.EncodeToString(sum2[:])), protocol.CodeMediaMismatch)
	})
	if n := e.countMessages(t); n != before {
		t.Errorf("%d messages stored after the refusals, %d before", n, before)
	}
	if after := bucketKeys(t, e); !slices.Equal(after, objects) {
		t.Errorf("bucket after the refusals: %v, before: %v", after, objects)
	}

	t.Run("declared whole digest not the blob's", func(t *testing.T) {
		// A blob sealed as SendFile would, uploaded in parts under the
		// digest of other bytes: each part is right, so the store and
		// media take it.
		file := randomBytes(t, threshold)
		sealed, err := e2ee.SealMedia(file)
		if err != nil {
			t.Fatal(err)
		}
		claimed := hexSHA256(append(slices.Clone(sealed.Blob), 0))
		size := int64(len(sealed.Blob))
		g, err := ca.RequestUpload(ctx, conv.ID, "m-whole-other", size, claimed, "file")
		if err != nil {
			t.Fatal(err)
		}
		parts, err := ca.PutParts(ctx, g, sealed.Blob)
		if err != nil {
			t.Fatal(err)
		}
		if err := ca.CompleteUpload(ctx, conv.ID, "m-whole-other", size, claimed, parts...); err != nil {
			t.Fatalf("completion of right parts under another whole digest: %v (media cannot tell)", err)
		}
		// The message names the digest the sender claims (and signs).
		m := &e2ee.Media{ID: "m-whole-other", Type: "application/octet-stream", Size: int64(len(file)), Key: sealed.Key, SHA256: claimed, Name: "x.bin"}
		if _, err := ca.Send(ctx, conv.ID, e2ee.Content{Media: m}); err != nil {
			t.Fatal(err)
		}
		got := waitMedia(t, wb, conv.ID, alice.id, 1)[0]
		if data, err := cb.Download(ctx, conv.ID, got.Content.Media); !errors.Is(err, client.ErrMediaDigest) || data != nil {
			t.Errorf("bob's download of a blob whose digest is not the message's: %d bytes, %v; want ErrMediaDigest", len(data), err)
		}
		if data, _ := cb.Download(ctx, conv.ID, got.Content.Media); bytes.Equal(data, file) {
			t.Error("the file was opened")
		}
	})
}
