package linkpage

// Texts are the page's sentences by locale, for tests.
func Texts() map[string]map[string]string { return texts }
