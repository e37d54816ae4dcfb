package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // decoders for thumbnails
	"image/jpeg"
	_ "image/png"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// Media in the terminal: /send PATH seals and uploads a file (the Go SDK's
// SendFile: the blob to the media store through a presigned URL, then an
// ordinary encrypted message); a message with a file prints its name, size
// and the /save command that fetches it; /save N [DIR] downloads message
// #N's file (a fresh presigned URL, its SHA-256 checked against the signed
// message, decrypted here) into DIR, default the current directory.

// sendFile is /send PATH.
func (v *view) sendFile(ctx context.Context, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		v.scr.println("   ✗ " + err.Error())
		return
	}
	f := describeFile(filepath.Base(path), data)
	label := "📎 " + f.Name
	v.scr.println(fmt.Sprintf("you: %s (%s) — uploading…", label, size(int64(len(data)))))
	v.sending.Lock()
	m, id, err := v.c.SendFile(ctx, v.conv, data, f)
	if err == nil {
		v.noteSent(id, label)
		v.mu.Lock()
		v.sentMedia[id] = m
		v.mu.Unlock()
	}
	v.sending.Unlock()
	if err != nil {
		v.scr.println("   ✗ not sent: " + strings.TrimPrefix(err.Error(), "client: "))
	}
}

// save is /save N [DIR].
func (v *view) save(ctx context.Context, args []string) {
	if len(args) < 1 || len(args) > 2 {
		v.scr.println("   usage: /save N [DIR] (N is the message's #number)")
		return
	}
	seq, err := strconv.ParseInt(strings.TrimPrefix(args[0], "#"), 10, 64)
	v.mu.Lock()
	m := v.media[seq]
	v.mu.Unlock()
	if err != nil || m == nil {
		v.scr.println(fmt.Sprintf("   ✗ message #%s has no file in this conversation", args[0]))
		return
	}
	dir := "."
	if len(args) == 2 {
		dir = args[1]
	}
	v.scr.println(fmt.Sprintf("   downloading %s (%s)…", fileName(m), size(m.Size)))
	data, err := v.c.Download(ctx, v.conv, m)
	var se *client.StoreError
	if errors.As(err, &se) && se.Expired() { // the URL ran out before the GET: ask again
		data, err = v.c.Download(ctx, v.conv, m)
	}
	if err != nil {
		v.scr.println("   ✗ " + strings.TrimPrefix(err.Error(), "client: "))
		return
	}
	path, err := writeNew(dir, fileName(m), data)
	if err != nil {
		v.scr.println("   ✗ " + err.Error())
		return
	}
	v.scr.println(fmt.Sprintf("   saved %s (%d bytes)", path, len(data)))
}

// describeFile is what the members learn of a file: its name, MIME type
// (from the name, else sniffed), and for an image its size and a
// thumbnail made here.
func describeFile(name string, data []byte) client.File {
	typ := mime.TypeByExtension(strings.ToLower(filepath.Ext(name)))
	if typ == "" {
		typ = http.DetectContentType(data)
	}
	if i := strings.Index(typ, ";"); i >= 0 && !strings.HasPrefix(typ, "text/") {
		typ = typ[:i]
	}
	f := client.File{Name: name, Type: typ}
	if strings.HasPrefix(typ, "image/") {
		if img, _, err := image.Decode(bytes.NewReader(data)); err == nil {
			b := img.Bounds()
			f.Width, f.Height = b.Dx(), b.Dy()
			f.Thumbnail = thumbnail(img)
		}
	}
	return f
}

// thumbnail is a JPEG of img within 320 px (nearest neighbour: a preview,
// not a picture), smaller and coarser until it fits e2ee.MaxThumbnail; nil
// when nothing fits.
func thumbnail(img image.Image) []byte {
	b := img.Bounds()
	for _, edge := range []int{320, 200, 120, 64} {
		scale := min(1, float64(edge)/float64(max(b.Dx(), b.Dy())))
		w, h := max(1, int(float64(b.Dx())*scale)), max(1, int(float64(b.Dy())*scale))
		small := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				small.Set(x, y, img.At(b.Min.X+x*b.Dx()/w, b.Min.Y+y*b.Dy()/h))
			}
		}
		for _, q := range []int{70, 50, 30} {
			var out bytes.Buffer
			if jpeg.Encode(&out, small, &jpeg.Options{Quality: q}) == nil && out.Len() <= e2ee.MaxThumbnail {
				return out.Bytes()
			}
		}
	}
	return nil
}

// fileName is the name to save m under: the sender's, without any folder
// in it (a name is the sender's to choose, a path on this machine is not).
func fileName(m *e2ee.Media) string {
	name := filepath.Base(filepath.Clean("/" + strings.ReplaceAll(m.Name, "\\", "/")))
	if name == "/" || name == "." || name == "" {
		return m.ID
	}
	return name
}

// writeNew writes data into dir under name, or "name (1)", "name (2)", …
// when that exists: a download never overwrites a file.
func writeNew(dir, name string, data []byte) (string, error) {
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 0; ; i++ {
		path := filepath.Join(dir, name)
		if i > 0 {
			path = filepath.Join(dir, fmt.Sprintf("%s (%d)%s", stem, i, ext))
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return "", err
		}
		return path, f.Close()
	}
}

// size is a byte count as people read it.
func size(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
}
