package linkpage

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/autodebit/autodebit"
)

// The page's fixed sentences, by locale (autodebit.LinkSessionLocales) and
// key. A %s is a wallet's name (brand names are not translated). English is
// the fallback; a test checks that every locale has every key with the same
// verbs.
var texts = map[string]map[string]string{
	"en": {
		"title":          "Link your wallet",
		"choose":         "Choose your wallet",
		"choose_help":    "You will approve the link in your wallet's app. Nothing is charged now.",
		"link":           "Link your %s wallet",
		"scan":           "Scan this code with the %s app.",
		"qr_alt":         "QR code to scan with %s",
		"open_app":       "Open %s",
		"other_device":   "Or scan this code with another device.",
		"this_device":    "On this device? Open %s.",
		"waiting":        "Waiting for you to approve in %s…",
		"linking":        "Approved. Linking your wallet…",
		"expired":        "The code expired before it was used.",
		"failed":         "%s did not link your wallet.",
		"unavailable":    "We could not get a code from %s just now.",
		"try_again":      "Try again",
		"new_code_help":  "Declined by mistake, or the code will not scan?",
		"new_code":       "Get a new code",
		"another_wallet": "Use another wallet",
		"cancel":         "Cancel",
		"linked_heading": "Wallet linked",
		"linked":         "Your %s wallet is linked.",
		"continue":       "Continue",
		"close":          "You can close this page.",
		"gone_heading":   "This link does not work",
		"gone":           "It has expired, was cancelled, or is not a valid link. Ask the shop for a new one.",
		"show_code":      "Show the QR code",
		"code_valid":     "The code works for 15 minutes.",
		"refreshes":      "This page refreshes every few seconds.",
		"error_heading":  "Something went wrong",
		"error":          "Nothing was linked. Try again in a moment.",
	},
	"zh": {
		"title":          "绑定您的钱包",
		"choose":         "选择您的钱包",
		"choose_help":    "您将在钱包应用中确认绑定。现在不会扣款。",
		"link":           "绑定您的%s钱包",
		"scan":           "请用%s应用扫描此二维码。",
		"qr_alt":         "用%s扫描的二维码",
		"open_app":       "打开%s",
		"other_device":   "或用另一台设备扫描此二维码。",
		"this_device":    "就在这台设备上？打开%s。",
		"waiting":        "正在等待您在%s中确认…",
		"linking":        "已确认，正在绑定您的钱包…",
		"expired":        "二维码在使用前已过期。",
		"failed":         "%s未能绑定您的钱包。",
		"unavailable":    "暂时无法从%s获取二维码。",
		"try_again":      "重试",
		"new_code_help":  "误点了拒绝，或二维码无法扫描？",
		"new_code":       "获取新的二维码",
		"another_wallet": "使用其他钱包",
		"cancel":         "取消",
		"linked_heading": "钱包已绑定",
		"linked":         "您的%s钱包已绑定。",
		"continue":       "继续",
		"close":          "您可以关闭此页面。",
		"gone_heading":   "此链接无法使用",
		"gone":           "链接已过期、已取消或无效。请向商家索取新的链接。",
		"show_code":      "显示二维码",
		"code_valid":     "二维码15分钟内有效。",
		"refreshes":      "此页面每隔几秒自动刷新。",
		"error_heading":  "出错了",
		"error":          "未绑定任何钱包。请稍后重试。",
	},
	"id": {
		"title":          "Tautkan dompet Anda",
		"choose":         "Pilih dompet Anda",
		"choose_help":    "Anda akan menyetujui penautan di aplikasi dompet. Tidak ada biaya sekarang.",
		"link":           "Tautkan dompet %s Anda",
		"scan":           "Pindai kode ini dengan aplikasi %s.",
		"qr_alt":         "Kode QR untuk dipindai dengan %s",
		"open_app":       "Buka %s",
		"other_device":   "Atau pindai kode ini dengan perangkat lain.",
		"this_device":    "Di perangkat ini? Buka %s.",
		"waiting":        "Menunggu persetujuan Anda di %s…",
		"linking":        "Disetujui. Menautkan dompet Anda…",
		"expired":        "Kode kedaluwarsa sebelum digunakan.",
		"failed":         "%s tidak menautkan dompet Anda.",
		"unavailable":    "Kami belum bisa mendapatkan kode dari %s saat ini.",
		"try_again":      "Coba lagi",
		"new_code_help":  "Tidak sengaja menolak, atau kode tidak bisa dipindai?",
		"new_code":       "Dapatkan kode baru",
		"another_wallet": "Gunakan dompet lain",
		"cancel":         "Batal",
		"linked_heading": "Dompet tertaut",
		"linked":         "Dompet %s Anda sudah tertaut.",
		"continue":       "Lanjutkan",
		"close":          "Anda dapat menutup halaman ini.",
		"gone_heading":   "Tautan ini tidak berfungsi",
		"gone":           "Tautan sudah kedaluwarsa, dibatalkan, atau tidak valid. Minta tautan baru kepada toko.",
		"show_code":      "Tampilkan kode QR",
		"code_valid":     "Kode berlaku selama 15 menit.",
		"refreshes":      "Halaman ini dimuat ulang setiap beberapa detik.",
		"error_heading":  "Terjadi kesalahan",
		"error":          "Tidak ada yang ditautkan. Coba lagi sebentar lagi.",
	},
	"ko": {
		"title":          "지갑 연결",
		"choose":         "지갑을 선택하세요",
		"choose_help":    "지갑 앱에서 연결을 승인하게 됩니다. 지금은 결제되지 않습니다.",
		"link":           "%s 지갑 연결",
		"scan":           "%s 앱으로 이 코드를 스캔하세요.",
		"qr_alt":         "%s 앱으로 스캔할 QR 코드",
		"open_app":       "%s 열기",
		"other_device":   "또는 다른 기기로 이 코드를 스캔하세요.",
		"this_device":    "이 기기에서 하시나요? %s 열기.",
		"waiting":        "%s에서 승인을 기다리는 중…",
		"linking":        "승인되었습니다. 지갑을 연결하는 중…",
		"expired":        "코드가 사용되기 전에 만료되었습니다.",
		"failed":         "%s에서 지갑을 연결하지 못했습니다.",
		"unavailable":    "지금은 %s에서 코드를 받을 수 없습니다.",
		"try_again":      "다시 시도",
		"new_code_help":  "실수로 거절했거나 코드가 스캔되지 않나요?",
		"new_code":       "새 코드 받기",
		"another_wallet": "다른 지갑 사용",
		"cancel":         "취소",
		"linked_heading": "지갑이 연결되었습니다",
		"linked":         "%s 지갑이 연결되었습니다.",
		"continue":       "계속",
		"close":          "이 페이지를 닫아도 됩니다.",
		"gone_heading":   "이 링크는 사용할 수 없습니다",
		"gone":           "만료되었거나 취소되었거나 올바르지 않은 링크입니다. 상점에 새 링크를 요청하세요.",
		"show_code":      "QR 코드 보기",
		"code_valid":     "코드는 15분 동안 유효합니다.",
		"refreshes":      "이 페이지는 몇 초마다 새로 고쳐집니다.",
		"error_heading":  "문제가 발생했습니다",
		"error":          "연결된 것은 없습니다. 잠시 후 다시 시도하세요.",
	},
	"th": {
		"title":          "เชื่อมต่อวอลเล็ตของคุณ",
		"choose":         "เลือกวอลเล็ตของคุณ",
		"choose_help":    "คุณจะยืนยันการเชื่อมต่อในแอปวอลเล็ต ยังไม่มีการหักเงินในตอนนี้",
		"link":           "เชื่อมต่อวอลเล็ต %s ของคุณ",
		"scan":           "สแกนโค้ดนี้ด้วยแอป %s",
		"qr_alt":         "คิวอาร์โค้ดสำหรับสแกนด้วย %s",
		"open_app":       "เปิด %s",
		"other_device":   "หรือสแกนโค้ดนี้ด้วยอุปกรณ์อื่น",
		"this_device":    "ใช้อุปกรณ์นี้อยู่ใช่ไหม เปิด %s",
		"waiting":        "กำลังรอให้คุณยืนยันใน %s…",
		"linking":        "ยืนยันแล้ว กำลังเชื่อมต่อวอลเล็ตของคุณ…",
		"expired":        "โค้ดหมดอายุก่อนที่จะถูกใช้",
		"failed":         "%s ไม่ได้เชื่อมต่อวอลเล็ตของคุณ",
		"unavailable":    "ขณะนี้ยังไม่สามารถรับโค้ดจาก %s ได้",
		"try_again":      "ลองอีกครั้ง",
		"new_code_help":  "กดปฏิเสธโดยไม่ตั้งใจ หรือสแกนโค้ดไม่ได้ใช่ไหม",
		"new_code":       "ขอโค้ดใหม่",
		"another_wallet": "ใช้วอลเล็ตอื่น",
		"cancel":         "ยกเลิก",
		"linked_heading": "เชื่อมต่อวอลเล็ตแล้ว",
		"linked":         "วอลเล็ต %s ของคุณเชื่อมต่อแล้ว",
		"continue":       "ดำเนินการต่อ",
		"close":          "คุณสามารถปิดหน้านี้ได้",
		"gone_heading":   "ลิงก์นี้ใช้ไม่ได้",
		"gone":           "ลิงก์หมดอายุ ถูกยกเลิก หรือไม่ถูกต้อง โปรดขอลิงก์ใหม่จากร้านค้า",
		"show_code":      "แสดงคิวอาร์โค้ด",
		"code_valid":     "โค้ดใช้ได้ 15 นาที",
		"refreshes":      "หน้านี้จะรีเฟรชทุกๆ สองสามวินาที",
		"error_heading":  "เกิดข้อผิดพลาด",
		"error":          "ยังไม่มีการเชื่อมต่อใดๆ โปรดลองอีกครั้งในอีกสักครู่",
	},
	"ms": {
		"title":          "Pautkan e-dompet anda",
		"choose":         "Pilih e-dompet anda",
		"choose_help":    "Anda akan meluluskan pautan dalam aplikasi e-dompet. Tiada caj sekarang.",
		"link":           "Pautkan e-dompet %s anda",
		"scan":           "Imbas kod ini dengan aplikasi %s.",
		"qr_alt":         "Kod QR untuk diimbas dengan %s",
		"open_app":       "Buka %s",
		"other_device":   "Atau imbas kod ini dengan peranti lain.",
		"this_device":    "Pada peranti ini? Buka %s.",
		"waiting":        "Menunggu kelulusan anda dalam %s…",
		"linking":        "Diluluskan. Memautkan e-dompet anda…",
		"expired":        "Kod tamat tempoh sebelum digunakan.",
		"failed":         "%s tidak memautkan e-dompet anda.",
		"unavailable":    "Kami tidak dapat memperoleh kod daripada %s buat masa ini.",
		"try_again":      "Cuba lagi",
		"new_code_help":  "Tertolak secara tidak sengaja, atau kod tidak dapat diimbas?",
		"new_code":       "Dapatkan kod baharu",
		"another_wallet": "Guna e-dompet lain",
		"cancel":         "Batal",
		"linked_heading": "E-dompet dipautkan",
		"linked":         "E-dompet %s anda telah dipautkan.",
		"continue":       "Teruskan",
		"close":          "Anda boleh menutup halaman ini.",
		"gone_heading":   "Pautan ini tidak berfungsi",
		"gone":           "Pautan telah tamat tempoh, dibatalkan atau tidak sah. Minta pautan baharu daripada kedai.",
		"show_code":      "Tunjukkan kod QR",
		"code_valid":     "Kod sah selama 15 minit.",
		"refreshes":      "Halaman ini dimuat semula setiap beberapa saat.",
		"error_heading":  "Berlaku ralat",
		"error":          "Tiada apa-apa dipautkan. Cuba lagi sebentar lagi.",
	},
	"tl": {
		"title":          "I-link ang iyong wallet",
		"choose":         "Piliin ang iyong wallet",
		"choose_help":    "Aaprubahan mo ang pag-link sa app ng wallet. Walang sisingilin ngayon.",
		"link":           "I-link ang iyong %s wallet",
		"scan":           "I-scan ang code na ito gamit ang %s app.",
		"qr_alt":         "QR code na ii-scan gamit ang %s",
		"open_app":       "Buksan ang %s",
		"other_device":   "O i-scan ang code na ito gamit ang ibang device.",
		"this_device":    "Nasa device na ito? Buksan ang %s.",
		"waiting":        "Hinihintay ang iyong pag-apruba sa %s…",
		"linking":        "Naaprubahan. Ini-link ang iyong wallet…",
		"expired":        "Nag-expire ang code bago ito nagamit.",
		"failed":         "Hindi na-link ng %s ang iyong wallet.",
		"unavailable":    "Hindi kami makakuha ng code mula sa %s sa ngayon.",
		"try_again":      "Subukang muli",
		"new_code_help":  "Napindot ang tanggihan, o hindi ma-scan ang code?",
		"new_code":       "Kumuha ng bagong code",
		"another_wallet": "Gumamit ng ibang wallet",
		"cancel":         "Kanselahin",
		"linked_heading": "Na-link na ang wallet",
		"linked":         "Na-link na ang iyong %s wallet.",
		"continue":       "Magpatuloy",
		"close":          "Maaari mo nang isara ang page na ito.",
		"gone_heading":   "Hindi gumagana ang link na ito",
		"gone":           "Nag-expire na, kinansela, o hindi wasto ang link. Humingi ng bagong link sa tindahan.",
		"show_code":      "Ipakita ang QR code",
		"code_valid":     "Gumagana ang code sa loob ng 15 minuto.",
		"refreshes":      "Nagre-refresh ang page na ito bawat ilang segundo.",
		"error_heading":  "May nangyaring mali",
		"error":          "Walang na-link. Subukang muli mamaya.",
	},
}

// text is the page's sentences in one locale. Its zero value is not
// usable; get one from textsFor.
type text struct {
	lang string
	m    map[string]string
}

// Lang is the locale's code, for the page's lang attribute.
func (t text) Lang() string { return t.lang }

// Get returns the sentence key with args formatted in, falling back to
// English for a key the locale lacks.
func (t text) Get(key string, args ...any) string {
	s, ok := t.m[key]
	if !ok {
		s = texts["en"][key]
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

func textsFor(lang string) text {
	if m, ok := texts[lang]; ok {
		return text{lang: lang, m: m}
	}
	return text{lang: "en", m: texts["en"]}
}

// aliases map language tags that browsers send to the page's locales:
// Filipino is written in Tagalog's words; "in" is the old code of
// Indonesian, "zsm" Standard Malay.
var aliases = map[string]string{"fil": "tl", "in": "id", "zsm": "ms"}

// chooseLocale picks the page's locale: the session's when set, else the
// best of the browser's Accept-Language that the page speaks, else English.
func chooseLocale(sessionLocale, acceptLanguage string) string {
	if sessionLocale != "" {
		if _, ok := texts[sessionLocale]; ok {
			return sessionLocale
		}
	}
	type pref struct {
		lang string
		q    float64
		i    int
	}
	var prefs []pref
	for i, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		primary, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if a, ok := aliases[primary]; ok {
			primary = a
		}
		if _, ok := texts[primary]; ok && q > 0 {
			prefs = append(prefs, pref{primary, q, i})
		}
	}
	sort.SliceStable(prefs, func(a, b int) bool { return prefs[a].q > prefs[b].q })
	if len(prefs) > 0 {
		return prefs[0].lang
	}
	return "en"
}

// init checks that the locales are the domain's: a session may name only
// those, and each must have its sentences.
func init() {
	for _, l := range autodebit.LinkSessionLocales() {
		if _, ok := texts[l]; !ok {
			panic("linkpage: no sentences for locale " + l)
		}
	}
}
