package report

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// browser drives headless Chromium over the DevTools protocol on a pipe
// (--remote-debugging-pipe: JSON messages ended by NUL on fds 3 and 4), so
// the test needs no WebSocket library and opens no port.
type browser struct {
	t      *testing.T
	cmd    *exec.Cmd
	in     *os.File // our end of Chromium's fd 3 (commands)
	mu     sync.Mutex
	nextID int
	waits  map[int]chan json.RawMessage
	events chan event
}

type event struct {
	Method    string          `json:"method"`
	Params    json.RawMessage `json:"params"`
	SessionID string          `json:"sessionId"`
}

func startBrowser(t *testing.T) *browser {
	t.Helper()
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("needs headless Chromium (Debian's chromium; .ci/run installs it)")
	}
	cmdR, cmdW, _ := os.Pipe()
	resR, resW, _ := os.Pipe()
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--user-data-dir="+t.TempDir(), "--remote-debugging-pipe", "about:blank")
	cmd.ExtraFiles = []*os.File{cmdR, resW} // fd 3: commands in, fd 4: responses out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmdR.Close()
	resW.Close()
	b := &browser{t: t, cmd: cmd, in: cmdW, waits: map[int]chan json.RawMessage{}, events: make(chan event, 1024)}
	go b.read(resR)
	t.Cleanup(func() {
		_ = b.call("", "Browser.close", nil, nil)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	return b
}

func (b *browser) read(r *os.File) {
	br := bufio.NewReader(r)
	for {
		msg, err := br.ReadBytes(0)
		if err != nil {
			close(b.events)
			return
		}
		msg = bytes.TrimSuffix(msg, []byte{0})
		var m struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
			event
		}
		if json.Unmarshal(msg, &m) != nil {
			continue
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.waits[m.ID]
			b.mu.Unlock()
			if ch != nil {
				if len(m.Error) > 0 {
					ch <- append([]byte(`{"__error":`), append(m.Error, '}')...)
				} else {
					ch <- m.Result
				}
			}
			continue
		}
		b.events <- m.event
	}
}

// call sends one command and decodes its result into out.
func (b *browser) call(session, method string, params, out any) error {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan json.RawMessage, 1)
	b.waits[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	data, _ := json.Marshal(msg)
	if _, err := b.in.Write(append(data, 0)); err != nil {
		return err
	}
	select {
	case res := <-ch:
		if bytes.HasPrefix(res, []byte(`{"__error":`)) {
			return fmt.Errorf("%s: %s", method, res)
		}
		if out != nil {
			return json.Unmarshal(res, out)
		}
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("%s: no answer", method)
	}
}

// pageLoad is what loading one page showed.
type pageLoad struct {
	session  string
	errors   []string // console errors and uncaught exceptions
	requests []string // every URL the page asked for
}

// open loads url in a new tab of the given viewport width and waits for its
// load event, recording console errors and network requests.
func (b *browser) open(url string, width int, mobile bool) *pageLoad {
	t := b.t
	var target struct{ TargetID string }
	if err := b.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		t.Fatal(err)
	}
	var att struct{ SessionID string }
	if err := b.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att); err != nil {
		t.Fatal(err)
	}
	p := &pageLoad{session: att.SessionID}
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable", "Network.enable"} {
		if err := b.call(p.session, m, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.call(p.session, "Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile}, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.call(p.session, "Page.navigate", map[string]any{"url": url}, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-b.events:
			if !ok {
				t.Fatal("the browser exited")
			}
			if ev.SessionID != p.session {
				continue
			}
			switch ev.Method {
			case "Network.requestWillBeSent":
				var r struct{ Request struct{ URL string } }
				json.Unmarshal(ev.Params, &r)
				p.requests = append(p.requests, r.Request.URL)
			case "Runtime.consoleAPICalled":
				var c struct {
					Type string
					Args []struct{ Value any }
				}
				json.Unmarshal(ev.Params, &c)
				if c.Type == "error" || c.Type == "assert" {
					p.errors = append(p.errors, fmt.Sprint("console.", c.Type, c.Args))
				}
			case "Runtime.exceptionThrown":
				p.errors = append(p.errors, "exception: "+string(ev.Params))
			case "Log.entryAdded":
				var l struct {
					Entry struct{ Level, Text, URL string }
				}
				json.Unmarshal(ev.Params, &l)
				if l.Entry.Level == "error" {
					p.errors = append(p.errors, "log: "+l.Entry.Text+" "+l.Entry.URL)
				}
			case "Page.loadEventFired":
				// Let late console messages and requests arrive.
				time.Sleep(200 * time.Millisecond)
				for {
					select {
					case ev := <-b.events:
						if ev.SessionID == p.session && ev.Method == "Network.requestWillBeSent" {
							var r struct{ Request struct{ URL string } }
							json.Unmarshal(ev.Params, &r)
							p.requests = append(p.requests, r.Request.URL)
						}
					default:
						return p
					}
				}
			}
		case <-deadline:
			t.Fatal("the page did not load")
		}
	}
}

// eval returns a JavaScript expression's value.
func (b *browser) eval(p *pageLoad, expr string, out any) {
	var res struct {
		Result struct {
			Value json.RawMessage
		}
		ExceptionDetails json.RawMessage
	}
	if err := b.call(p.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res); err != nil {
		b.t.Fatal(err)
	}
	if len(res.ExceptionDetails) > 0 {
		b.t.Fatalf("%s: %s", expr, res.ExceptionDetails)
	}
	if err := json.Unmarshal(res.Result.Value, out); err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
}

// screenshot saves a PNG of the whole page.
func (b *browser) screenshot(p *pageLoad, path string) {
	var res struct{ Data string }
	if err := b.call(p.session, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &res); err != nil {
		b.t.Fatal(err)
	}
	png, err := base64.StdEncoding.DecodeString(res.Data)
	if err != nil || len(png) < 1000 {
		b.t.Fatalf("screenshot: %d bytes, %v", len(png), err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
