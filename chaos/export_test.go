package chaos

// DrawFault exposes drawFault to the tests of the receiver's fault mix.
var DrawFault = drawFault

// Gauge exposes gauge to its test.
var Gauge = gauge
