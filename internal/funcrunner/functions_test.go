package funcrunner_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentchat/agentchat/internal/funcrunner"
	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/cloudevents/sdk-go/v2/event"
)

// probe is what the test knows about one function: the services it needs
// and a check that it answers a CloudEvent the way it should.
type probe struct {
	env   func(t *testing.T) map[string]string
	check func(t *testing.T, url string, out *syncBuffer)
}

var probes = map[string]probe{
	"media": {env: func(t *testing.T) map[string]string {
		env := s3Env(t)
		maps.Copy(env, mongoEnv(t))
		return env
	}, check: checkMedia},
	"agent-invoke": {env: func(t *testing.T) map[string]string {
		env := mongoEnv(t)
		env["K_SINK"] = acceptingBroker(t) // an invoke for an agent it holds no key for posts agent.error only
		return env
	}, check: func(t *testing.T, url string, _ *syncBuffer) {
		if code, reply := post(t, url, agentInvoke(t)); code != http.StatusOK || reply != nil {
			t.Errorf("agent.invoke: %d, reply %v; want 200 and no reply", code, reply)
		}
		bad := agentInvoke(t)
		bad.SetType(events.TypeAgentDone)
		if code, _ := post(t, url, bad); code != http.StatusBadRequest {
			t.Errorf("wrong type: %d, want 400 (not retried, dead-lettered)", code)
		}
	}},
	"calc-agent": {env: func(t *testing.T) map[string]string {
		key, _ := e2ee.GenerateKey() // not the key of calc's device in the invoke: it answers agent.error only
		return map[string]string{"K_SINK": acceptingBroker(t), "AGENT_KEYS": "calc:" + base64.StdEncoding.EncodeToString(key.Bytes())}
	}, check: func(t *testing.T, url string, _ *syncBuffer) {
		e, err := events.NewAgentInvoke("calc", "calc", agentInvokeMessage())
		if err != nil {
			t.Fatal(err)
		}
		if code, reply := post(t, url, e); code != http.StatusOK || reply != nil {
			t.Errorf("agent.invoke: %d, reply %v; want 200 and no reply", code, reply)
		}
	}},
	"history-tool": {env: func(t *testing.T) map[string]string {
		env := mongoEnv(t)
		key, _ := e2ee.GenerateKey()
		env["AGENT_KEYS"] = "bot:" + base64.StdEncoding.EncodeToString(key.Bytes())
		return env
	}, check: func(t *testing.T, url string, _ *syncBuffer) {
		// An empty conversation: nothing earlier to read, once per call id.
		call := toolCalled(t, "history", `{"count": 5}`)
		if code, reply := post(t, url, call); code != http.StatusOK || reply == nil {
			t.Fatalf("tool.called: %d, reply %v; want 200 and a tool.result", code, reply)
		} else if r, err := events.Decode[events.ToolResult](*reply); err != nil || r.Error || r.Content != "no earlier messages found" {
			t.Errorf("tool.result = %+v %v", r, err)
		}
		if code, reply := post(t, url, call); code != http.StatusOK || reply != nil {
			t.Errorf("the same call again: %d, reply %v; want 200 and no reply (run once)", code, reply)
		}
	}},
	"http-tool": {env: func(t *testing.T) map[string]string {
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("pong")) }))
		t.Cleanup(api.Close)
		env := mongoEnv(t)
		env["HTTP_TOOL_ALLOW"] = api.URL + "/"
		return env
	}, check: func(t *testing.T, url string, _ *syncBuffer) {
		refused := toolCalled(t, "http", `{"url": "http://example.com/"}`)
		if code, reply := post(t, url, refused); code != http.StatusOK || reply == nil {
			t.Fatalf("tool.called: %d, reply %v; want 200 and a tool.result", code, reply)
		} else if r, _ := events.Decode[events.ToolResult](*reply); !r.Error || !strings.Contains(r.Content, "allow-list") {
			t.Errorf("a URL off the allow-list: %+v, want an error result", r)
		}
	}},
	"push": {env: func(t *testing.T) map[string]string {
		env := mongoEnv(t)
		maps.Copy(env, redisEnv(t))
		// A throwaway VAPID key (base64url of a P-256 scalar).
		env["VAPID_PRIVATE_KEY"] = "8KiLy_mfpT_rN2WmigjQ1xt5hJy6jTji5W-ntcII5X4"
		return env
	}, check: func(t *testing.T, url string, _ *syncBuffer) {
		// A stored message for devices without a subscription: nothing to push.
		e, err := events.NewMessageStored(agentInvokeMessage())
		if err != nil {
			t.Fatal(err)
		}
		if code, reply := post(t, url, e); code != http.StatusOK || reply != nil {
			t.Errorf("message.stored: %d, reply %v; want 200 and no reply", code, reply)
		}
		e.SetType(events.TypeAgentDone)
		if code, _ := post(t, url, e); code != http.StatusBadRequest {
			t.Errorf("wrong type: %d, want 400 (not retried, dead-lettered)", code)
		}
	}},
	"deadletter": {check: func(t *testing.T, url string, out *syncBuffer) {
		e := event.New()
		e.SetID("dl-1")
		e.SetType(events.TypeMessageSent)
		e.SetSource("/agentchat/connector/c1")
		e.SetExtension(events.ExtErrorDest, "http://persist.agentchat.svc")
		e.SetExtension(events.ExtErrorCode, "500")
		e.SetData("application/json", map[string]string{"canary": "PLAINTEXT-CANARY-42"})
		if code, reply := post(t, url, e); code != http.StatusOK || reply != nil {
			t.Errorf("dead letter: %d, reply %v; want 200 and no reply", code, reply)
		}
		testenv.Eventually(t, 5*time.Second, 20*time.Millisecond, func() bool {
			return strings.Contains(out.String(), `"knativeerrordest":"http://persist.agentchat.svc"`)
		}, "a log line naming the failed destination")
		if strings.Contains(out.String(), "PLAINTEXT-CANARY-42") {
			t.Error("deadletter logged event data")
		}
	}},
	"persist": {env: mongoEnv, check: func(t *testing.T, url string, _ *syncBuffer) {
		// A message to a conversation persist has never heard of: it must
		// answer (rejection or not) without a server error.
		e, err := events.NewMessageSent(events.SourceConnectorPrefix+"c1", "conv-unknown", "alice", "alice-phone",
			events.MessageSent{ClientMessageID: "cm-1", Envelope: envelope()})
		if err != nil {
			t.Fatal(err)
		}
		if code, reply := post(t, url, e); code >= 500 {
			t.Errorf("message.sent: %d (reply %v), want < 500", code, reply)
		} else if reply != nil {
			if err := events.Validate(*reply); err != nil {
				t.Errorf("reply is not a catalog event: %v", err)
			}
		}
	}},
	"route": {env: func(t *testing.T) map[string]string {
		env := mongoEnv(t)
		for k, v := range redisEnv(t) {
			env[k] = v
		}
		return env
	}},
	"accounts": {env: mongoEnv, check: func(t *testing.T, url string, _ *syncBuffer) {
		resp, err := http.Get(url + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET /.well-known/jwks.json: %d, want 200", resp.StatusCode)
		}
	}},
}

// TestFunctions builds every function folder through func's scaffold,
// runs it as a process with the test services it needs, checks readiness
// and sends it a CloudEvent, all functions side by side. A folder that is
// not a func project, a function that does not build or start, and a
// function without a probe here all fail: nothing is skipped.
func TestFunctions(t *testing.T) {
	root := repoRoot(t)
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, "functions", e.Name())
		p, inspectErr := funcrunner.Inspect(dir)
		seen[p.Name] = inspectErr == nil
		t.Run(e.Name(), func(t *testing.T) {
			t.Parallel() // builds and starts overlap: each function has its own lock and port
			if inspectErr != nil {
				t.Fatalf("not a func project: %v", inspectErr)
			}
			pr, ok := probes[p.Name]
			if !ok {
				t.Fatalf("no probe for function %s: add one to probes (the services it needs, a CloudEvent to answer)", p.Name)
			}
			env := map[string]string{"LOG_LEVEL": "DEBUG"}
			if pr.env != nil {
				for k, v := range pr.env(t) {
					env[k] = v
				}
			}
			bin, err := buildOnce(t, dir)
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			out := &syncBuffer{}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// The grace the platform gives a function (internal/platform): it
			// must exit within it of SIGTERM, its clients closed.
			proc, err := funcrunner.Start(ctx, funcrunner.StartOptions{Binary: bin, Name: p.Name, Env: env, LogWriter: out,
				StopGrace: 5 * time.Second})
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			t.Cleanup(func() {
				if err := proc.Stop(context.Background()); err != nil {
					t.Errorf("Stop: %v", err)
				} else if err := proc.Wait(); err != nil {
					t.Errorf("exit after SIGTERM: %v, want a clean exit", err)
				}
				if t.Failed() {
					t.Logf("output of %s:\n%s", p.Name, out)
				}
			})
			resp, err := http.Get(proc.URL() + "/health/readiness")
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("readiness after Start: %v %v", resp, err)
			}
			resp.Body.Close()
			if pr.check != nil {
				pr.check(t, proc.URL(), out)
			}
		})
	}
	for name := range probes {
		if !seen[name] {
			t.Errorf("function %s not found under functions/ (or its func.yaml is broken)", name)
		}
	}
}

var builds sync.Map // function dir → *builtOnce

type builtOnce struct {
	once sync.Once
	bin  string
	err  error
}

// buildOnce builds dir into the default cache (shared with the dev runner,
// so a rerun is a cache hit) at most once per test binary.
func buildOnce(t *testing.T, dir string) (string, error) {
	v, _ := builds.LoadOrStore(dir, &builtOnce{})
	b := v.(*builtOnce)
	b.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		begin := time.Now()
		b.bin, b.err = funcrunner.Build(ctx, funcrunner.Options{FunctionDir: dir})
		t.Logf("Build %s: %s", filepath.Base(dir), time.Since(begin).Round(time.Millisecond))
	})
	return b.bin, b.err
}

func mongoEnv(t *testing.T) map[string]string {
	uri, db := testenv.Mongo(t)
	return map[string]string{"MONGODB_URI": uri, "MONGODB_DATABASE": db}
}

func redisEnv(t *testing.T) map[string]string {
	url, prefix := testenv.Redis(t)
	return map[string]string{"REDIS_URL": url, "REDIS_PREFIX": prefix}
}

func s3Env(t *testing.T) map[string]string {
	s := testenv.S3(t)
	return map[string]string{
		"S3_ENDPOINT": s.Endpoint, "S3_ACCESS_KEY": s.AccessKey, "S3_SECRET_KEY": s.SecretKey, "S3_BUCKET": s.Bucket,
	}
}

// checkMedia asks for an upload URL over the wire, from a user of a
// conversation the (empty) directory does not have: media, having read the
// directory in MongoDB, answers with its refusal (200 and a reply, for the
// device to hear); a request of another type is refused (400). The upload
// itself is tested in functions/media and tests/e2e.
func checkMedia(t *testing.T, url string, _ *syncBuffer) {
	sum := sha256.Sum256([]byte("blob"))
	e, err := events.NewMediaRequest(events.TypeMediaUploadRequested, events.SourceConnectorPrefix+"c1", "conv-1", "alice", "alice-phone",
		events.MediaUploadRequested{MediaID: "m-1", Size: 4, SHA256: hex.EncodeToString(sum[:]), Kind: events.MediaFile})
	if err != nil {
		t.Fatal(err)
	}
	code, reply := post(t, url, e)
	if code != http.StatusOK || reply == nil {
		t.Fatalf("upload.requested: %d, reply %v; want 200 and a reply", code, reply)
	}
	d, err := events.Decode[events.MediaRejected](*reply)
	if err != nil || reply.Type() != events.TypeMediaRejected || d.Code != "not_member" {
		t.Fatalf("reply %s %s: %v; want media.rejected not_member", reply.Type(), reply.Data(), err)
	}
	bad := e.Clone()
	bad.SetType(events.TypeMediaStored)
	if code, _ := post(t, url, bad); code != http.StatusBadRequest {
		t.Errorf("wrong type: %d, want 400", code)
	}
}

func envelope() *e2ee.Envelope {
	return &e2ee.Envelope{V: e2ee.Version, Nonce: make([]byte, 12), Ciphertext: make([]byte, 32),
		Keys: []e2ee.WrappedKey{{Device: "bob-phone", Ephemeral: make([]byte, 32), Nonce: make([]byte, 12), Wrapped: make([]byte, 48)}}}
}

// acceptingBroker is a broker ingress that accepts every post.
func acceptingBroker(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	t.Cleanup(srv.Close)
	return srv.URL
}

// toolCalled is a call of tool by the agent bot, with a call id of its own.
func toolCalled(t *testing.T, tool, arguments string) event.Event {
	t.Helper()
	e, err := events.NewToolCalled("conv-1", "dv-bot", "model", events.ToolCalled{CallID: "tc-" + events.RandomID(), Tool: tool,
		AgentID: "bot", ReplyTo: 3, Arguments: arguments})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// agentInvokeMessage is a stored message of alice's in a conversation
// with the agents bot and calc, with its audience (devices and keys).
func agentInvokeMessage() events.Message {
	aud := &events.Audience{Keys: map[string]string{},
		Agents: []events.AgentMember{{ID: "bot", Kind: "model"}, {ID: "calc", Kind: "calc"}}}
	for _, d := range []events.DeviceRef{{User: "alice", Device: "alice-phone"}, {User: "bot", Device: "dv-bot"}, {User: "calc", Device: "dv-calc"}} {
		k, _ := e2ee.GenerateKey()
		aud.Devices = append(aud.Devices, d)
		aud.Keys[d.Device] = base64.StdEncoding.EncodeToString(k.PublicKeyBytes())
	}
	return events.Message{
		ConversationID: "conv-1", Seq: 1, SenderID: "alice", SenderDevice: "alice-phone",
		ClientMessageID: "cm-1", Envelope: envelope(), StoredAt: time.Now().UTC(), Audience: aud,
	}
}

func agentInvoke(t *testing.T) event.Event {
	t.Helper()
	e, err := events.NewAgentInvoke("bot", "model", agentInvokeMessage())
	if err != nil {
		t.Fatal(fmt.Errorf("agent invoke: %w", err))
	}
	return e
}
