package linkpage_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/engine"
)

// The buyer's page in headless Chromium, at a phone's size and a
// desktop's: every flow a buyer can take, each ending where the merchant's
// shop (another server) receives the browser.

// sizes are the windows the page is checked at.
var sizes = []struct {
	name          string
	width, height int64
}{{"phone", 390, 844}, {"desktop", 1280, 800}}

// chrome starts headless Chromium (Debian's /usr/bin/chromium, or
// $AUTODEBIT_CHROMIUM, or chromium on $PATH). Without it the test skips,
// except under CI, where it fails: CI never passes without the browser.
func chrome(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("AUTODEBIT_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		found, lerr := exec.LookPath("chromium")
		switch ci := os.Getenv("CI"); {
		case lerr == nil:
			path = found
		case ci != "" && ci != "false" && ci != "0":
			t.Fatalf("Chromium is not installed at %s (CI=%s): run scripts/deps.sh", path, ci)
		default:
			t.Skipf("Chromium is not installed at %s; run scripts/deps.sh (as root) to run the browser tests", path)
		}
	}
	actx, stopAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()))
	ctx, stop := chromedp.NewContext(actx)
	t.Cleanup(func() { stop(); stopAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// browserTab is one tab at one size. Each step that fails leaves a
// screenshot in $AUTODEBIT_SCREENSHOTS (default testdata/screenshots-failed,
// which git ignores) and fails the test; with AUTODEBIT_SCREENSHOTS_ALL set,
// every step leaves one.
type browserTab struct {
	t    *testing.T
	ctx  context.Context
	size string
}

func openTab(t *testing.T, browser context.Context, size string, width, height int64) *browserTab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first action opens the tab: run it without a timeout, whose end
	// would close the tab.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	bt := &browserTab{t: t, ctx: ctx, size: size}
	bt.step("open at "+size, chromedp.EmulateViewport(width, height))
	return bt
}

func (bt *browserTab) step(name string, actions ...chromedp.Action[chromedp.Void]) {
	bt.t.Helper()
	ctx, cancel := context.WithTimeout(bt.ctx, 30*time.Second)
	defer cancel()
	err := chromedp.Do(ctx, actions...)
	if err == nil {
		if os.Getenv("AUTODEBIT_SCREENSHOTS_ALL") != "" {
			bt.t.Logf("screenshot: %s", bt.saveScreenshot(name))
		}
		return
	}
	shot := bt.saveScreenshot(name)
	lctx, lcancel := context.WithTimeout(bt.ctx, 5*time.Second)
	at, _ := chromedp.Run(lctx, chromedp.Location())
	lcancel()
	bt.t.Fatalf("%s, step %q at %s: %v\nscreenshot: %s", bt.size, name, at, err, shot)
}

func (bt *browserTab) saveScreenshot(step string) string {
	ctx, cancel := context.WithTimeout(bt.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "(none: " + err.Error() + ")"
	}
	dir := os.Getenv("AUTODEBIT_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("testdata", "screenshots-failed")
	}
	name := regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(bt.t.Name()+" "+step, "_") + ".png"
	path, _ := filepath.Abs(filepath.Join(dir, name))
	if err := os.MkdirAll(dir, 0o755); err != nil || os.WriteFile(path, png, 0o644) != nil {
		return "(not saved)"
	}
	return path
}

// until runs check every 50 ms until it returns nil or ctx ends; a page
// that is navigating makes checks fail for a moment, which is fine.
func until(what string, check func(ctx context.Context, t *chromedp.Target) error) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		for {
			err := check(ctx, t)
			if err == nil {
				return chromedp.Void{}, nil
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, fmt.Errorf("%s: %v", what, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// shows waits until the element sel is on screen with want in its text.
func shows(sel, want string) chromedp.Action[chromedp.Void] {
	expr := fmt.Sprintf(`(() => { const e = document.querySelector(%q);
		return !!e && e.getClientRects().length > 0 && e.textContent.includes(%q); })()`, sel, want)
	return until(fmt.Sprintf("%s showing %q", sel, want), func(ctx context.Context, t *chromedp.Target) error {
		ok, err := chromedp.Evaluate[bool](expr)(ctx, t)
		if err == nil && !ok {
			err = fmt.Errorf("not yet")
		}
		return err
	})
}

// hidden checks that sel is in the page but not on screen.
func hidden(sel string) chromedp.Action[chromedp.Void] {
	expr := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.getClientRects().length === 0; })()`, sel)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		ok, err := chromedp.Evaluate[bool](expr)(ctx, t)
		if err == nil && !ok {
			err = fmt.Errorf("%s is shown (or missing), want it hidden", sel)
		}
		return chromedp.Void{}, err
	}
}

// arrives waits until the tab is at a URL starting with prefix.
func arrives(prefix string) chromedp.Action[chromedp.Void] {
	return until("arrive at "+prefix, func(ctx context.Context, t *chromedp.Target) error {
		at, err := chromedp.Location()(ctx, t)
		if err == nil && !strings.HasPrefix(at, prefix) {
			err = fmt.Errorf("at %s", at)
		}
		return err
	})
}

// fitsWidth checks that nothing makes the page scroll sideways.
func fitsWidth(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
	w, err := chromedp.Evaluate[[]int64](`[document.documentElement.scrollWidth, window.innerWidth]`)(ctx, t)
	if err == nil && w[0] > w[1] {
		err = fmt.Errorf("the page is %d px wide in a %d px window", w[0], w[1])
	}
	return chromedp.Void{}, err
}

// attr reads an attribute of sel into *dst.
func attr(sel, name string, dst *string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		v, err := chromedp.AttributeValue(chromedp.CSS(sel), name)(ctx, t)
		*dst = v.Value
		if err == nil && !v.Exists {
			err = fmt.Errorf("%s has no %s", sel, name)
		}
		return chromedp.Void{}, err
	}
}

// approve acts as the buyer in the wallet: the simulator's page for the
// QR's TEXT link, in a tab of its own.
func approve(bt *browserTab, qrLink, action string) {
	bt.t.Helper()
	wallet := &browserTab{t: bt.t, size: bt.size}
	var cancel context.CancelFunc
	wallet.ctx, cancel = chromedp.NewContext(bt.ctx)
	defer cancel()
	if err := chromedp.Do(wallet.ctx); err != nil {
		bt.t.Fatalf("open the wallet's tab: %v", err)
	}
	wallet.step("wallet page: "+action,
		chromedp.Navigate(qrLink),
		chromedp.WaitVisible(chromedp.CSS(`button[value=`+action+`]`)),
		chromedp.Click(chromedp.CSS(`button[value=`+action+`]`)),
		shows("body", map[string]string{"approve": "Linked", "deny": "Denied"}[action]))
}

// qrShown waits for the QR step of the page and returns the QR's link:
// on a phone the button that opens the wallet, on a desktop the code first
// and a small link.
func qrShown(bt *browserTab, wallet string) string {
	bt.t.Helper()
	var link string
	if bt.size == "phone" {
		bt.step("QR step, phone", shows("#open-app", "Open "+wallet), chromedp.WaitVisible(chromedp.CSS(`#qr`)),
			shows(".qr figcaption", "another device"), hidden("#open-here"), shows("#status", "Waiting for you to approve in "+wallet),
			fitsWidth, attr("#open-app", "href", &link))
	} else {
		bt.step("QR step, desktop", chromedp.WaitVisible(chromedp.CSS(`#qr`)), shows(".qr figcaption", "Scan this code with the "+wallet+" app"),
			shows("#open-here", "Open "+wallet), hidden("#open-app"), shows("#status", "Waiting for you to approve in "+wallet),
			fitsWidth, attr("#open-here", "href", &link))
	}
	if !strings.HasPrefix(link, "http") {
		bt.t.Fatalf("QR link %q", link)
	}
	return link
}

func TestBrowser(t *testing.T) {
	browser := chrome(t)
	s := newStack(t)
	for _, size := range sizes {
		t.Run(size.name, func(t *testing.T) {
			tab := func(t *testing.T) *browserTab { return openTab(t, browser, size.name, size.width, size.height) }

			t.Run("ChooseWalletApproveReturnWithToken", func(t *testing.T) {
				ls, page := s.newSession(t, "", "", 0)
				bt := tab(t)
				bt.step("wallet choice", chromedp.Navigate(page), shows("h1", "Choose your wallet"), shows("#wallet-GCASH", "GCash"),
					shows("#wallet-TNG", "Touch 'n Go eWallet"), shows("#wallet-KAKAOPAY", "Kakao Pay"), shows("#cancel", "Cancel"), fitsWidth)
				bt.step("choose GCash", chromedp.Click(chromedp.CSS(`#wallet-GCASH`)), shows("h1", "Link your GCash wallet"))
				approve(bt, qrShown(bt, "GCash"), "approve")
				bt.step("back at the shop", arrives(s.Shop+"/return"), shows("#session", ls.ID), shows("#token", "tok_"))
				got := s.session(t, ls.ID)
				var token string
				bt.step("the token", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
					v, err := chromedp.Text(chromedp.CSS(`#token`))(ctx, tg)
					token = v
					return chromedp.Void{}, err
				})
				if got.Status != autodebit.LinkSessionComplete || got.TokenID != token || got.Wallet != "GCASH" {
					t.Fatalf("session %+v, shop got token %q", got, token)
				}
				bt.step("the link again: linked, with the way back", chromedp.Navigate(page), shows("h1", "Wallet linked"),
					shows("#continue", "Continue"), fitsWidth)
			})

			t.Run("DenyThenNewCodeThenApprove", func(t *testing.T) {
				ls, page := s.newSession(t, "DANA", "", 0)
				bt := tab(t)
				bt.step("open", chromedp.Navigate(page), shows("h1", "Link your DANA wallet"))
				first := qrShown(bt, "DANA")
				approve(bt, first, "deny") // Antom tells the merchant nothing of a denial
				bt.step("a new code", shows("#new-code", "Get a new code"), chromedp.Click(chromedp.CSS(`#new-code`)),
					until("a new QR link", func(ctx context.Context, tg *chromedp.Target) error {
						v, err := chromedp.Evaluate[string](`(document.querySelector("#open-app, #open-here") || {}).href || ""`)(ctx, tg)
						if err == nil && (v == first || v == "") {
							err = fmt.Errorf("still the old code")
						}
						return err
					}))
				second := qrShown(bt, "DANA")
				if second == first {
					t.Fatalf("the new code is the old one: %s", second)
				}
				approve(bt, second, "approve")
				bt.step("back at the shop", arrives(s.Shop+"/return"), shows("#session", ls.ID), shows("#token", "tok_"))
			})

			t.Run("ExpiryThenTryAgain", func(t *testing.T) {
				ls, page := s.newSession(t, "GCASH", "", 2*time.Hour)
				bt := tab(t)
				bt.step("open", chromedp.Navigate(page))
				qrShown(bt, "GCash")
				// 15 minutes without the buyer: the attempt expires, the page
				// sees it by itself and explains.
				s.advance(t, autodebit.AuthorizationTTL+time.Second)
				s.work(t, engine.ExpireAuthorizationArgs{AuthorizationID: s.session(t, ls.ID).AuthorizationID})
				bt.step("expired, in plain words", shows("#failure", "The code expired before it was used."),
					shows("#try-again", "Try again"), fitsWidth)
				bt.step("try again", chromedp.Click(chromedp.CSS(`#try-again`)))
				approve(bt, qrShown(bt, "GCash"), "approve")
				bt.step("back at the shop", arrives(s.Shop+"/return"), shows("#session", ls.ID))
				if n := len(attempts(t, s, ls.ID)); n != 2 {
					t.Fatalf("%d attempts, want 2", n)
				}
			})

			t.Run("CancelGoesToCancelURL", func(t *testing.T) {
				ls, page := s.newSession(t, "TRUEMONEY", "", 0)
				bt := tab(t)
				bt.step("open", chromedp.Navigate(page))
				qrShown(bt, "TrueMoney")
				bt.step("cancel", chromedp.Click(chromedp.CSS(`#cancel`)), arrives(s.Shop+"/cancel"),
					shows("#session", ls.ID), shows("#status", "cancelled"))
				bt.step("the link after cancelling", chromedp.Navigate(page), shows("h1", "This link does not work"), fitsWidth)
			})

			t.Run("ExpiredLink", func(t *testing.T) {
				ls, page := s.newSession(t, "KAKAOPAY", "ko", time.Minute)
				bt := tab(t)
				// The session's locale is Korean; brand names are not translated.
				bt.step("open", chromedp.Navigate(page), shows("h1", "Kakao Pay 지갑 연결"), shows("#status", "Kakao Pay에서 승인을 기다리는 중"),
					chromedp.WaitVisible(chromedp.CSS(`#qr`)), fitsWidth)
				s.advance(t, time.Minute)
				s.work(t, engine.ExpireLinkSessionArgs{LinkSessionID: ls.ID})
				bt.step("the open page notices", shows("h1", "이 링크는 사용할 수 없습니다"), fitsWidth)
				bt.step("and a new visit", chromedp.Navigate(page), shows("h1", "이 링크는 사용할 수 없습니다"))
			})

			t.Run("WrongSecret", func(t *testing.T) {
				_, page := s.newSession(t, "GCASH", "", 0)
				bt := tab(t)
				bt.step("a mistyped link", chromedp.Navigate(otherLastChar(page)), shows("h1", "This link does not work"),
					shows("#gone", "Ask the shop for a new one"), fitsWidth)
			})
		})
	}
}

// TestBrowser_Narrowest checks the pages at 320 px, the narrowest phone
// screens: nothing sticks out, the buttons stay whole.
func TestBrowser_Narrowest(t *testing.T) {
	browser := chrome(t)
	s := newStack(t)
	ls, page := s.newSession(t, "", "th", 0) // Thai: long words without spaces
	bt := openTab(t, browser, "phone", 320, 568)
	bt.step("wallet choice", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#wallet-TNG`)), fitsWidth)
	bt.step("QR step", chromedp.Click(chromedp.CSS(`#wallet-TNG`)), chromedp.WaitVisible(chromedp.CSS(`#open-app`)),
		chromedp.WaitVisible(chromedp.CSS(`#qr`)), fitsWidth)
	s.advance(t, autodebit.AuthorizationTTL+time.Second)
	s.work(t, engine.ExpireAuthorizationArgs{AuthorizationID: s.session(t, ls.ID).AuthorizationID})
	bt.step("expired attempt", chromedp.WaitVisible(chromedp.CSS(`#try-again`)), shows("#failure", "โค้ดหมดอายุก่อนที่จะถูกใช้"), fitsWidth)
}

// TestBrowser_WithoutJavaScript: with scripts off, the page still moves
// on by itself (its <noscript> refresh) and reaches the shop.
func TestBrowser_WithoutJavaScript(t *testing.T) {
	browser := chrome(t)
	s := newStack(t)
	ls, page := s.newSession(t, "GCASH", "", 0)
	bt := openTab(t, browser, "desktop", 1280, 800)
	bt.step("scripts off", func(ctx context.Context, _ *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return chromedp.Void{}, err
	})
	bt.step("open", chromedp.Navigate(page))
	approve(bt, qrShown(bt, "GCash"), "approve")
	bt.step("the refresh brings the shop", arrives(s.Shop+"/return"), shows("#session", ls.ID), shows("#token", "tok_"))
}

func attempts(t *testing.T, s *stack, sessionID string) []*autodebit.Authorization {
	t.Helper()
	list, _, err := s.Store.FindAuthorizations(context.Background(), autodebit.AuthorizationFilter{LinkSessionID: sessionID})
	if err != nil {
		t.Fatal(err)
	}
	return list
}
