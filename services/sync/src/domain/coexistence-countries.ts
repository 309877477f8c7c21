/**
 * Countries where Meta does not offer coexistence (onboarding a WhatsApp Business app number to
 * Cloud API), by calling code. Source: Meta's "Onboard WhatsApp Business app users" page, which
 * names Nigeria and South Africa (the 2025 changelog entries for AU, JP, PH, RU, KR, TR, the EEA,
 * the EU and India *added* support). Kept as data so an ops change is one line.
 */
const COEXISTENCE_UNSUPPORTED: ReadonlyArray<{ callingCode: string, country: string, iso: string }> = Object.freeze([
  { callingCode: '234', country: 'Nigeria', iso: 'NG' },
  { callingCode: '27', country: 'South Africa', iso: 'ZA' }
])

/**
 * The unsupported country of a display number (`+27 82 555 0100`, `2782…`), or undefined when
 * coexistence is available there. Matching is on the leading digits of the E.164 number.
 */
export function unsupportedCoexistenceCountry (displayPhoneNumber: string): { country: string, iso: string, callingCode: string } | undefined {
  const digits = displayPhoneNumber.replace(/\D/g, '').replace(/^00/, '')
  return COEXISTENCE_UNSUPPORTED.find((c) => digits.startsWith(c.callingCode))
}
