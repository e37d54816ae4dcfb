package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// benchMediaEnv sets how many MiB each of the benchmark's blobs has; set, the
// benchmark runs at size (make bench-media), unset it is a small check that
// the harness works.
const benchMediaEnv = "AGENTCHAT_BENCH_MEDIA"

// benchMediaPartEnv, set, lowers media's multipart threshold and part size
// to that many MiB (5 at least, S3's smallest part): the platform's
// uploads then go in parts (make bench-media PART=5).
const benchMediaPartEnv = "AGENTCHAT_BENCH_MEDIA_PART"

// TestBenchMedia measures, in one run against the same MinIO, how fast
// media moves through the platform's presigned URLs compared with MinIO's
// own PUT and GET (minio-go with the root credentials, no platform), and
// prints one line:
//
//	media: blob=16MiB [part=5MiB] n=8 put_minio=… put_presigned=… (r) sendfile=… (r) get_minio=… get_presigned=… (r) download=… (r) MB/s; media_answer=…ms
//
// put_presigned is media's upload request, the PUT to its URL and media's
// check (a HEAD) for a blob sealed beforehand; sendfile adds sealing on the
// device (Client.SendFile without its message). get_presigned is media's
// download request and the GET; download adds the digest check and the
// decryption (Client.Download). Ratios (r) are against MinIO's own rate of
// the same direction; media_answer is the mean time of one of media's
// answers (upload, uploaded, download: a frame through the connector, the
// broker and media and back), what the presigned paths pay per blob on
// top of the bytes. The methods take turns blob by blob, so a machine that
// gets busier slows all of them alike.
func TestBenchMedia(t *testing.T) {
	mib, n := 1, 1
	if v := os.Getenv(benchMediaEnv); v != "" {
		var err error
		if mib, err = strconv.Atoi(v); err != nil || mib < 1 || mib > 64 {
			t.Fatalf("%s=%q: want MiB per blob, 1..64", benchMediaEnv, v)
		}
		n = 8
	}
	var env map[string]map[string]string
	partLabel := ""
	if v := os.Getenv(benchMediaPartEnv); v != "" {
		part, err := strconv.Atoi(v)
		if err != nil || part < 5 || part > 64 {
			t.Fatalf("%s=%q: want MiB per part, 5..64", benchMediaPartEnv, v)
		}
		b := strconv.Itoa(part << 20)
		env = map[string]map[string]string{"media": {"MEDIA_MULTIPART_THRESHOLD": b, "MEDIA_PART_SIZE": b}}
		partLabel = fmt.Sprintf(" part=%dMiB", part)
	}
	e := start(t, opts{functions: mediaFunctions, envFor: env})
	if e.s3.Bucket == "" {
		testenv.Missing(t, "media needs the test S3 service ("+testenv.EnvS3Endpoint+")")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	alice := signup(t, e, "alice")
	ca := alice.dial(t, e)
	conv, err := alice.sess.CreateConversation(ctx, "group", []string{alice.id}, "bench")
	if err != nil {
		t.Fatal(err)
	}
	mc, err := e.s3.Client()
	if err != nil {
		t.Fatal(err)
	}

	size := mib << 20
	var putMinIO, putPresigned, sendFile, getMinIO, getPresigned, download time.Duration
	var asks time.Duration // media's answers alone: upload, uploaded and download requests
	timed := func(d *time.Duration, f func()) {
		began := time.Now()
		f()
		*d += time.Since(began)
	}
	for i := range n {
		data := randomBytes(t, size)
		sealed, err := e2ee.SealMedia(data)
		if err != nil {
			t.Fatal(err)
		}
		blobSize := int64(len(sealed.Blob))

		direct := fmt.Sprintf("bench/direct-%d", i)
		timed(&putMinIO, func() {
			if _, err := mc.PutObject(ctx, e.s3.Bucket, direct, bytes.NewReader(sealed.Blob), blobSize,
				minio.PutObjectOptions{ContentType: "application/octet-stream"}); err != nil {
				t.Fatalf("minio put: %v", err)
			}
		})
		id := fmt.Sprintf("mbench%d", i)
		timed(&putPresigned, func() {
			var g *client.UploadGrant
			timed(&asks, func() {
				if g, err = ca.RequestUpload(ctx, conv.ID, id, blobSize, sealed.SHA256, "file"); err != nil {
					t.Fatal(err)
				}
			})
			var parts []string
			if len(g.Parts) > 0 {
				if parts, err = ca.PutParts(ctx, g, sealed.Blob); err != nil {
					t.Fatal(err)
				}
			} else if err := ca.Put(ctx, g, sealed.Blob); err != nil {
				t.Fatal(err)
			}
			timed(&asks, func() {
				if err := ca.CompleteUpload(ctx, conv.ID, id, blobSize, sealed.SHA256, parts...); err != nil {
					t.Fatal(err)
				}
			})
		})
		var sent *e2ee.Media
		timed(&sendFile, func() {
			if sent, _, err = ca.SendFile(ctx, conv.ID, data, client.File{Name: "bench.bin"}); err != nil {
				t.Fatal(err)
			}
		})

		timed(&getMinIO, func() {
			o, err := mc.GetObject(ctx, e.s3.Bucket, direct, minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			// Into memory, as a client that opens the blob must, and as
			// Client.Get does: one buffer of the size known beforehand.
			got := make([]byte, blobSize)
			if n, err := io.ReadFull(o, got); err != nil {
				t.Fatalf("minio get: %d bytes, %v", n, err)
			}
		})
		var blob []byte
		timed(&getPresigned, func() {
			var g *client.DownloadGrant
			timed(&asks, func() {
				if g, err = ca.RequestDownload(ctx, conv.ID, id); err != nil {
					t.Fatal(err)
				}
			})
			if blob, err = ca.Get(ctx, g); err != nil {
				t.Fatal(err)
			}
		})
		if sum := sha256.Sum256(blob); hex.EncodeToString(sum[:]) != sealed.SHA256 { // not timed: the bytes, not the check
			t.Fatal("presigned get: another blob")
		}
		timed(&download, func() {
			got, err := ca.Download(ctx, conv.ID, sent)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("download: %d bytes, %v", len(got), err)
			}
		})
	}

	total := float64(n * size)
	rate := func(d time.Duration) float64 { return total / d.Seconds() / 1e6 }
	ratio := func(d, base time.Duration) string { return fmt.Sprintf("(%.2f)", base.Seconds()/d.Seconds()) }
	line := fmt.Sprintf("media: blob=%dMiB%s n=%d put_minio=%.0f put_presigned=%.0f %s sendfile=%.0f %s get_minio=%.0f get_presigned=%.0f %s download=%.0f %s MB/s; media_answer=%.1fms",
		mib, partLabel, n, rate(putMinIO), rate(putPresigned), ratio(putPresigned, putMinIO), rate(sendFile), ratio(sendFile, putMinIO),
		rate(getMinIO), rate(getPresigned), ratio(getPresigned, getMinIO), rate(download), ratio(download, getMinIO),
		float64(asks.Microseconds())/1000/float64(3*n))
	fmt.Println(line) // make bench-media shows this line
}
