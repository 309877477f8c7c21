// Rate-card markets by the recipient's country calling code, as Meta's pricing page maps them
// ("Country calling codes" table, pricing.mdx, Dec 2025; Zimbabwe +263 in Rest of Africa since
// 1 Oct 2025). A country not listed maps to "Other". Market names are spelled as in Meta's rate
// card CSV and in the `region` of VOLUME_BASED_PRICING_TIER_UPDATE webhooks, so both join on them.
// Meta may move a country between markets on a quarter start: update this table with the card.

const OTHER_MARKET = 'Other'

type Entry = readonly [prefix: string, country: string, market: string]

const COUNTRIES: readonly Entry[] = [
  ['54', 'AR', 'Argentina'], ['55', 'BR', 'Brazil'], ['56', 'CL', 'Chile'], ['57', 'CO', 'Colombia'],
  ['20', 'EG', 'Egypt'], ['33', 'FR', 'France'], ['49', 'DE', 'Germany'], ['91', 'IN', 'India'],
  ['62', 'ID', 'Indonesia'], ['972', 'IL', 'Israel'], ['39', 'IT', 'Italy'], ['60', 'MY', 'Malaysia'],
  ['52', 'MX', 'Mexico'], ['31', 'NL', 'Netherlands'], ['234', 'NG', 'Nigeria'], ['92', 'PK', 'Pakistan'],
  ['51', 'PE', 'Peru'], ['7', 'RU', 'Russia'], ['966', 'SA', 'Saudi Arabia'], ['27', 'ZA', 'South Africa'],
  ['34', 'ES', 'Spain'], ['90', 'TR', 'Turkey'], ['971', 'AE', 'United Arab Emirates'], ['44', 'GB', 'United Kingdom']
]

const REGIONS: Record<string, readonly (readonly [prefix: string, country: string])[]> = {
  'Rest of Africa': [
    ['213', 'DZ'], ['244', 'AO'], ['229', 'BJ'], ['267', 'BW'], ['226', 'BF'], ['257', 'BI'], ['237', 'CM'],
    ['235', 'TD'], ['242', 'CG'], ['291', 'ER'], ['251', 'ET'], ['241', 'GA'], ['220', 'GM'], ['233', 'GH'],
    ['245', 'GW'], ['225', 'CI'], ['254', 'KE'], ['266', 'LS'], ['231', 'LR'], ['218', 'LY'], ['261', 'MG'],
    ['265', 'MW'], ['223', 'ML'], ['222', 'MR'], ['212', 'MA'], ['258', 'MZ'], ['264', 'NA'], ['227', 'NE'],
    ['250', 'RW'], ['221', 'SN'], ['232', 'SL'], ['252', 'SO'], ['211', 'SS'], ['249', 'SD'], ['268', 'SZ'],
    ['255', 'TZ'], ['228', 'TG'], ['216', 'TN'], ['256', 'UG'], ['260', 'ZM'], ['263', 'ZW']
  ],
  'Rest of Asia Pacific': [
    ['93', 'AF'], ['61', 'AU'], ['880', 'BD'], ['855', 'KH'], ['86', 'CN'], ['852', 'HK'], ['81', 'JP'],
    ['856', 'LA'], ['976', 'MN'], ['977', 'NP'], ['64', 'NZ'], ['675', 'PG'], ['63', 'PH'], ['65', 'SG'],
    ['94', 'LK'], ['886', 'TW'], ['992', 'TJ'], ['66', 'TH'], ['993', 'TM'], ['998', 'UZ'], ['84', 'VN']
  ],
  'Rest of Central & Eastern Europe': [
    ['355', 'AL'], ['374', 'AM'], ['994', 'AZ'], ['375', 'BY'], ['359', 'BG'], ['385', 'HR'], ['420', 'CZ'],
    ['995', 'GE'], ['30', 'GR'], ['36', 'HU'], ['371', 'LV'], ['370', 'LT'], ['373', 'MD'], ['389', 'MK'],
    ['48', 'PL'], ['40', 'RO'], ['381', 'RS'], ['421', 'SK'], ['386', 'SI'], ['380', 'UA']
  ],
  'Rest of Western Europe': [
    ['43', 'AT'], ['32', 'BE'], ['45', 'DK'], ['358', 'FI'], ['353', 'IE'], ['47', 'NO'], ['351', 'PT'],
    ['46', 'SE'], ['41', 'CH']
  ],
  // NANP members Meta lists by area code ("1 (809, 829, 849)").
  'Rest of Latin America': [
    ['591', 'BO'], ['506', 'CR'], ['1809', 'DO'], ['1829', 'DO'], ['1849', 'DO'], ['593', 'EC'], ['503', 'SV'],
    ['502', 'GT'], ['509', 'HT'], ['504', 'HN'], ['1658', 'JM'], ['1876', 'JM'], ['505', 'NI'], ['507', 'PA'],
    ['595', 'PY'], ['1787', 'PR'], ['1939', 'PR'], ['598', 'UY'], ['58', 'VE']
  ],
  'Rest of Middle East': [
    ['973', 'BH'], ['964', 'IQ'], ['962', 'JO'], ['965', 'KW'], ['961', 'LB'], ['968', 'OM'], ['974', 'QA'], ['967', 'YE']
  ]
}

// Other NANP countries (Caribbean) share +1 but are not "North America" in Meta's table, so
// they fall to "Other" [I: Meta's table lists +1 only for Canada and the United States].
const NANP_OTHER = ['242', '246', '264', '268', '284', '345', '441', '473', '649', '664', '721', '758', '767', '784', '868', '869']

const TABLE = new Map<string, { country: string | null, market: string }>()
for (const [prefix, country, market] of COUNTRIES) TABLE.set(prefix, { country, market })
for (const [market, list] of Object.entries(REGIONS)) for (const [prefix, country] of list) TABLE.set(prefix, { country, market })
for (const area of NANP_OTHER) TABLE.set('1' + area, { country: null, market: OTHER_MARKET })
// +1 otherwise: the United States or Canada (indistinguishable by prefix).
TABLE.set('1', { country: null, market: 'North America' })
const MAX_PREFIX = Math.max(...[...TABLE.keys()].map((k) => k.length))

/** Every market name Meta's table knows, plus "Other". */
export const MARKETS: readonly string[] = [...new Set([...COUNTRIES.map((c) => c[2]), 'North America', ...Object.keys(REGIONS), OTHER_MARKET])]

export interface MarketOf {
  /** Rate-card market name, e.g. "Brazil", "Rest of Latin America", "Other". */
  market: string
  /** ISO 3166 alpha-2 where the prefix names one country; null for +1 US/CA and unknown countries. */
  country: string | null
}

/**
 * The market of a recipient phone number (E.164 digits, with or without "+", spaces or dashes)
 * by longest calling-code prefix. Undefined when the recipient is not a phone number (a
 * business-scoped user id): the market then comes from elsewhere or stays unknown.
 */
export function marketOf (recipient: string): MarketOf | undefined {
  const digits = recipient.replace(/[\s()+.-]/g, '')
  if (!/^\d{6,16}$/.test(digits)) return undefined
  for (let len = Math.min(MAX_PREFIX, digits.length); len >= 1; len--) {
    const hit = TABLE.get(digits.slice(0, len))
    if (hit !== undefined) return { ...hit }
  }
  return { market: OTHER_MARKET, country: null }
}

/**
 * A market name as written on a rate card or in a tier webhook, in our spelling; matching
 * ignores case, spacing and "&" vs "and" (e.g. "Rest of Central and Eastern Europe").
 */
export function normalizeMarket (raw: string): string | undefined {
  const key = (s: string): string => s.toLowerCase().replace(/&/g, 'and').replace(/[^a-z]/g, '')
  const k = key(raw)
  return MARKETS.find((m) => key(m) === k) ?? ALIASES.get(k)
}

const ALIASES = new Map<string, string>([
  ['restofcee', 'Rest of Central & Eastern Europe'],
  ['restofcentralandeasterneurope', 'Rest of Central & Eastern Europe'],
  ['unitedstates', 'North America'],
  ['canada', 'North America'],
  ['uae', 'United Arab Emirates'],
  ['uk', 'United Kingdom'],
  ['ksa', 'Saudi Arabia']
])
