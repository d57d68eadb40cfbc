package antomsim

import (
	"cmp"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/autodebit/autodebit/antom"
)

// stateVersion is the format of the state file. A file of another version
// is refused at start rather than half-read.
const stateVersion = 1

// stateCipher names the encryption of a state file written with
// Config.StateKey; stateAAD binds the ciphertext to this use.
const (
	stateCipher = "AES-256-GCM"
	stateAAD    = "antomsim state v1"
)

// sealedState is the form of a state file written with Config.StateKey:
// the savedState JSON, sealed with AES-256-GCM under a random nonce.
type sealedState struct {
	Version int    `json:"version"`
	Cipher  string `json:"cipher,omitempty"`
	Sealed  string `json:"sealed,omitempty"` // base64url(nonce || ciphertext || tag)
}

// stateAEAD returns the cipher of a 32-byte StateKey.
func stateAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("antomsim: StateKey is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("antomsim: StateKey: %w", err)
	}
	return cipher.NewGCM(block)
}

// stateSaveDelay is how long after a change the state file is written:
// changes that follow within it are written together, so a burst of calls
// costs one write. A process killed outright (kill -9, power loss) loses
// at most the changes of this window and of the write in flight; Close
// always writes.
const stateSaveDelay = 100 * time.Millisecond

// savedState is the state file: everything the simulator knows, so that a
// restarted simulator answers as the one that stopped. The Antom key is
// not in it (Config.AntomPrivateKey keeps one across runs).
type savedState struct {
	Version int        `json:"version"`
	SavedAt time.Time  `json:"savedAt"` // wall clock at the write
	Clock   savedClock `json:"clock"`
	Seed    int64      `json:"seed"`
	// RNG is the ID generator's state, so IDs and tokens never repeat.
	RNG      []byte `json:"rng"`
	IDSeq    uint64 `json:"idSeq"`
	NotifSeq uint64 `json:"notifSeq"`

	Accounts       []Account            `json:"accounts"`
	Authorizations []savedAuthorization `json:"authorizations"`
	Tokens         []savedToken         `json:"tokens"`
	Payments       []savedPayment       `json:"payments"`
	Refunds        []Refund             `json:"refunds"`
	Notifications  []Notification       `json:"notifications"`
	// Attempts are the scheduled delivery attempts, in the order they are
	// due; Held indexes those a reorder fault holds back, in order.
	Attempts []savedAttempt `json:"attempts"`
	Held     []int          `json:"held,omitempty"`

	Settings   Settings          `json:"settings"`
	Faults     Faults            `json:"faults"`
	FaultRolls map[string]uint64 `json:"faultRolls,omitempty"`
	FaultUsed  map[string]int    `json:"faultUsed,omitempty"`
	FaultHits  map[string]int    `json:"faultHits,omitempty"`
}

type savedClock struct {
	Now   time.Time `json:"now"`
	Scale float64   `json:"scale"` // 0 for a manual clock
}

type savedAuthorization struct {
	Authorization
	// IssuedToken is the access token the authCode was exchanged for.
	IssuedToken string `json:"issuedToken,omitempty"`
}

type savedToken struct {
	Token
	QRCode string `json:"qrCode"` // the consult the token came from
}

type savedPayment struct {
	Payment
	Fingerprint   string    `json:"fingerprint"`
	Answered      string    `json:"answered,omitempty"`
	AnsweredCode  string    `json:"answeredCode,omitempty"`
	FailNotified  bool      `json:"failNotified,omitempty"`
	ProcessingDue time.Time `json:"processingDue,omitzero"`
}

type savedAttempt struct {
	Notification string    `json:"notification"` // its ID
	Number       int       `json:"number"`
	At           time.Time `json:"at"` // when the attempt's event runs
	Due          time.Time `json:"due,omitzero"`
	Delayed      bool      `json:"delayed,omitempty"`
	Held         bool      `json:"held,omitempty"`
	Fault        string    `json:"fault,omitempty"`
}

// changed notes that the state changed, so that the state file is written
// soon. Callers may hold s.mu.
func (s *Sim) changed() {
	if s.saveKick == nil {
		return
	}
	select {
	case s.saveKick <- struct{}{}:
	default:
	}
}

// saveLoop writes the state file stateSaveDelay after a change.
func (s *Sim) saveLoop() {
	defer s.bg.Done()
	for {
		select {
		case <-s.done:
			return
		case <-s.saveKick:
		}
		select {
		case <-s.done:
			return // Close writes
		case <-time.After(stateSaveDelay):
		}
		if err := s.Save(); err != nil {
			s.log.Error("antomsim: save state", "file", s.cfg.StateFile, "err", err)
		}
	}
}

// Save writes the whole state to Config.StateFile now, atomically (a
// crash leaves the previous file or the new one, never a mix) and readable
// by its owner only, since it holds access tokens. The simulator also
// saves by itself shortly after each change and on Close; Save is for
// callers that need the file current at once. Without a StateFile it does
// nothing.
func (s *Sim) Save() error {
	if s.cfg.StateFile == "" {
		return nil
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	b, err := json.Marshal(s.snapshot())
	if err != nil {
		return fmt.Errorf("antomsim: encode state: %w", err)
	}
	if s.stateAEAD != nil {
		nonce := make([]byte, s.stateAEAD.NonceSize(), s.stateAEAD.NonceSize()+len(b)+s.stateAEAD.Overhead())
		rand.Read(nonce)
		sealed := s.stateAEAD.Seal(nonce, nonce, b, []byte(stateAAD))
		b, _ = json.Marshal(sealedState{Version: stateVersion, Cipher: stateCipher, Sealed: base64.RawURLEncoding.EncodeToString(sealed)})
	}
	if err := writeFileAtomic(s.cfg.StateFile, append(b, '\n')); err != nil {
		return fmt.Errorf("antomsim: save state: %w", err)
	}
	return nil
}

// snapshot copies the state under s.mu.
func (s *Sim) snapshot() *savedState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.st
	v := &savedState{Version: stateVersion, SavedAt: time.Now(), Seed: s.seed,
		Clock: savedClock{Now: s.now(), Scale: s.clock.Scale()},
		IDSeq: st.idSeq, NotifSeq: st.notifSeq, Settings: st.settings, Faults: st.faults,
		// Copies: Save encodes after s.mu is released, while API calls
		// and deliveries keep counting faults.
		FaultRolls: maps.Clone(st.faultRolls), FaultUsed: maps.Clone(st.faultUsed), FaultHits: maps.Clone(st.faultHits)}
	v.RNG, _ = st.rng.MarshalBinary() // ChaCha8 never fails to marshal
	for _, a := range st.accountList {
		v.Accounts = append(v.Accounts, a.Account)
	}
	for _, a := range st.authList {
		sa := savedAuthorization{Authorization: a.Authorization}
		if a.issued != nil {
			sa.IssuedToken = a.issued.AccessToken
		}
		v.Authorizations = append(v.Authorizations, sa)
	}
	for _, t := range st.tokenList {
		v.Tokens = append(v.Tokens, savedToken{Token: t.Token, QRCode: t.auth.QRCode})
	}
	for _, p := range st.paymentList {
		sp := savedPayment{Payment: p.Payment, Fingerprint: p.fingerprint, Answered: p.answered,
			AnsweredCode: p.answeredCode, FailNotified: p.failNotified, ProcessingDue: p.processingDue}
		sp.Refunds = nil // kept in Refunds
		v.Payments = append(v.Payments, sp)
	}
	for _, f := range st.refundList {
		v.Refunds = append(v.Refunds, f.Refund)
	}
	for _, n := range st.notifs {
		c := n.Notification
		c.Attempts = slices.Clone(n.Attempts)
		v.Notifications = append(v.Notifications, c)
	}
	events := slices.Clone(st.events)
	slices.SortFunc(events, func(a, b *event) int {
		return cmp.Or(a.due.Compare(b.due), cmp.Compare(a.seq, b.seq))
	})
	index := map[*attempt]int{}
	for _, e := range events {
		a := e.delivery
		if a == nil {
			continue // state events are rebuilt from the objects at load
		}
		if a.held && !slices.Contains(st.held, a) {
			continue // a reorder hold already released: its event does nothing
		}
		index[a] = len(v.Attempts)
		v.Attempts = append(v.Attempts, savedAttempt{Notification: a.n.ID, Number: a.number, At: e.due,
			Due: a.due, Delayed: a.delayed, Held: a.held, Fault: a.fault})
	}
	for _, a := range st.held {
		if i, ok := index[a]; ok {
			v.Held = append(v.Held, i)
		}
	}
	return v
}

// writeFileAtomic writes b to path through a temporary file in the same
// directory: written, synced, renamed over path, then the directory
// synced, so that a crash leaves either the old file or the new one. The
// file is 0600.
func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// readState reads the state file at path, opening it with aead when that
// is set; it returns nil, nil when there is none. A file that cannot be
// read, decoded or decrypted is an error naming it: starting empty would
// silently forget every token. With a key, a file in clear is refused too:
// it was not written by this simulator.
func readState(path string, aead cipher.AEAD) (*savedState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("antomsim: state file %s: %w", path, err)
	}
	notState := func(why any) error {
		return fmt.Errorf("antomsim: state file %s is not a simulator state (%v); restore it from a backup, or move it away to start with an empty simulator (every linked token is then lost)", path, why)
	}
	var env sealedState
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, notState(err)
	}
	if env.Version != stateVersion {
		return nil, fmt.Errorf("antomsim: state file %s has format version %d; this build reads version %d", path, env.Version, stateVersion)
	}
	switch {
	case env.Cipher != "" && aead == nil:
		return nil, fmt.Errorf("antomsim: state file %s is encrypted (%s); it needs the StateKey it was written with", path, env.Cipher)
	case env.Cipher == "" && aead != nil:
		return nil, fmt.Errorf("antomsim: state file %s is not encrypted, but a StateKey is set; a file holding access tokens in clear is not loaded: restore the encrypted file, or move it away to start with an empty simulator", path)
	case env.Cipher != "":
		if env.Cipher != stateCipher {
			return nil, notState(fmt.Sprintf("cipher %q, want %q", env.Cipher, stateCipher))
		}
		sealed, err := base64.RawURLEncoding.DecodeString(env.Sealed)
		if err != nil || len(sealed) < aead.NonceSize() {
			return nil, notState("the sealed data is not base64url or too short")
		}
		n := aead.NonceSize()
		if b, err = aead.Open(nil, sealed[:n], sealed[n:], []byte(stateAAD)); err != nil {
			return nil, fmt.Errorf("antomsim: state file %s does not open with this StateKey (was the key changed, or the file altered?)", path)
		}
	}
	var v savedState
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, notState(err)
	}
	if v.Version != stateVersion {
		return nil, fmt.Errorf("antomsim: state file %s has format version %d; this build reads version %d", path, v.Version, stateVersion)
	}
	return &v, nil
}

// resumeTime is where the clock restarts from a saved one: a manual clock
// where it stopped; a running clock as if it had kept running at its scale
// while the simulator was down, so that a real-time simulator stays on the
// wall clock (plus whatever Advance added).
func (v *savedState) resumeTime(now time.Time) time.Time {
	if v.Clock.Scale == 0 {
		return v.Clock.Now
	}
	down := now.Sub(v.SavedAt)
	if down < 0 {
		down = 0
	}
	return v.Clock.Now.Add(time.Duration(float64(down) * v.Clock.Scale))
}

// restore replaces the empty state with v and schedules again what was
// waiting: authorization expiries, payment completions and closes, and
// notification deliveries. A notification that was being delivered when
// the state was written (it has no attempt scheduled) is attempted again,
// as Antom resends what it has no ack for. Callers hold no lock; s is not
// running yet.
func (s *Sim) restore(v *savedState, path string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("antomsim: state file %s is inconsistent: %s; restore it from a backup, or move it away to start with an empty simulator", path, fmt.Sprintf(format, args...))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.st
	if err := st.rng.UnmarshalBinary(v.RNG); err != nil {
		return bad("rng: %v", err)
	}
	st.idSeq, st.notifSeq, st.settings = v.IDSeq, v.NotifSeq, v.Settings
	if st.settings.PayMode == "" {
		st.settings.PayMode = PayModeInstant
	}
	if err := v.Faults.Validate(); err != nil {
		return bad("faults: %v", err)
	}
	st.faults = v.Faults
	for _, m := range []struct {
		dst *map[string]int
		src map[string]int
	}{{&st.faultUsed, v.FaultUsed}, {&st.faultHits, v.FaultHits}} {
		if m.src != nil {
			*m.dst = m.src
		}
	}
	if v.FaultRolls != nil {
		st.faultRolls = v.FaultRolls
	}

	for _, a := range v.Accounts {
		k := accountKey(a.Wallet, a.UserLoginID)
		if st.accounts[k] != nil {
			return bad("account %s appears twice", k)
		}
		acct := &account{a}
		st.accounts[k] = acct
		st.accountList = append(st.accountList, acct)
	}
	issued := map[*authorization]string{}
	for _, sa := range v.Authorizations {
		if st.auths[sa.QRCode] != nil || sa.QRCode == "" {
			return bad("authorization %q appears twice or has no QR code", sa.QRCode)
		}
		a := &authorization{Authorization: sa.Authorization}
		st.auths[a.QRCode] = a
		if a.AuthCode != "" {
			st.authCodes[a.AuthCode] = a
		}
		st.authList = append(st.authList, a)
		if sa.IssuedToken != "" {
			issued[a] = sa.IssuedToken
		}
	}
	for _, sv := range v.Tokens {
		acct := st.accounts[accountKey(sv.Wallet, sv.UserLoginID)]
		auth := st.auths[sv.QRCode]
		if acct == nil || auth == nil || st.tokens[sv.AccessToken] != nil {
			return bad("token of %s/%s refers to an unknown account or authorization, or appears twice", sv.Wallet, sv.UserLoginID)
		}
		tk := &token{Token: sv.Token, acct: acct, auth: auth}
		st.tokens[tk.AccessToken] = tk
		if tk.RefreshToken != "" {
			st.refresh[tk.RefreshToken] = tk
		}
		st.tokenList = append(st.tokenList, tk)
	}
	for a, access := range issued {
		if a.issued = st.tokens[access]; a.issued == nil {
			return bad("authorization %s issued a token that is not in the file", a.QRCode)
		}
	}
	for _, sp := range v.Payments {
		acct := st.accounts[accountKey(sp.Wallet, sp.UserLoginID)]
		if acct == nil || st.payments[sp.PaymentRequestID] != nil || st.paymentIDs[sp.PaymentID] != nil {
			return bad("payment %s refers to an unknown account or appears twice", sp.PaymentRequestID)
		}
		p := &payment{Payment: sp.Payment, acct: acct, fingerprint: sp.Fingerprint, answered: sp.Answered,
			answeredCode: sp.AnsweredCode, failNotified: sp.FailNotified, processingDue: sp.ProcessingDue}
		p.Refunds = nil
		st.payments[p.PaymentRequestID] = p
		st.paymentIDs[p.PaymentID] = p
		st.paymentList = append(st.paymentList, p)
	}
	for _, r := range v.Refunds {
		p := st.paymentIDs[r.PaymentID]
		if p == nil || st.refunds[r.RefundRequestID] != nil || st.refundIDs[r.RefundID] != nil {
			return bad("refund %s refers to an unknown payment or appears twice", r.RefundRequestID)
		}
		f := &refund{r}
		p.refunds = append(p.refunds, f)
		st.refunds[f.RefundRequestID] = f
		st.refundIDs[f.RefundID] = f
		st.refundList = append(st.refundList, f)
	}
	notifs := map[string]*notification{}
	for _, n := range v.Notifications {
		if notifs[n.ID] != nil {
			return bad("notification %s appears twice", n.ID)
		}
		c := &notification{n}
		notifs[n.ID] = c
		st.notifs = append(st.notifs, c)
	}

	// What was waiting, in the order it was scheduled.
	for _, a := range st.authList {
		if a.Status == AuthPending {
			s.expireAt(a)
		}
	}
	for _, p := range st.paymentList {
		if p.Status == antom.PaymentStatusProcessing && !p.processingDue.IsZero() {
			s.completeAt(p, p.processingDue)
		}
		if p.Status == antom.PaymentStatusProcessing || (p.Status == antom.PaymentStatusFail && !p.failNotified) {
			s.closeAt(p, p.CloseTime)
		}
	}
	scheduled := map[*notification]bool{}
	attempts := make([]*attempt, len(v.Attempts))
	for i, sa := range v.Attempts {
		n := notifs[sa.Notification]
		if n == nil || n.Status != NotifyPending || sa.Number < 1 || sa.Number > len(s.schedule) {
			return bad("attempt %d of notification %s does not match a pending notification", sa.Number, sa.Notification)
		}
		a := &attempt{n: n, number: sa.Number, due: sa.Due, delayed: sa.Delayed, held: sa.Held, fault: sa.Fault}
		attempts[i] = a
		scheduled[n] = true
		s.scheduleAttempt(sa.At, a)
	}
	for _, i := range v.Held {
		if i < 0 || i >= len(attempts) || !attempts[i].held {
			return bad("held attempt %d does not exist", i)
		}
		st.held = append(st.held, attempts[i])
	}
	for _, n := range st.notifs {
		if n.Status != NotifyPending || scheduled[n] {
			continue
		}
		next := len(n.Attempts) + 1
		if next > len(s.schedule) {
			n.Status = NotifyFailed
			continue
		}
		due := n.CreateTime
		if k := len(n.Attempts); k > 0 {
			due = n.Attempts[k-1].ScheduledTime.Add(s.schedule[k])
		}
		s.scheduleAttempt(due, &attempt{n: n, number: next})
	}
	return nil
}

// lockState takes an exclusive, non-blocking flock on path + ".lock" and
// returns the open lock file; the lock lasts until it is closed (or the
// process dies, kill -9 included).
func lockState(path string) (*os.File, error) {
	lock := path + ".lock"
	f, err := os.OpenFile(lock, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("antomsim: lock state file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("antomsim: state file %s is in use by another simulator (it holds %s); give each simulator its own state file", path, lock)
		}
		return nil, fmt.Errorf("antomsim: lock state file %s: %w", lock, err)
	}
	return f, nil
}

// removeStaleTemps deletes temporary files a crash left beside the state
// file between writing and renaming them. Called with the lock held.
func removeStaleTemps(path string) {
	stale, _ := filepath.Glob(path + ".tmp-*")
	for _, f := range stale {
		os.Remove(f)
	}
}
