import t from 'tap'
import { MARKETS, marketOf, normalizeMarket } from '../../src/domain/markets.ts'
import { normalizeCategory, normalizePricingType } from '../../src/domain/categories.ts'

t.test('recipient number to market by longest calling-code prefix', async (t) => {
  t.same(marketOf('5511988887777'), { market: 'Brazil', country: 'BR' })
  t.same(marketOf('+91 98765 43210'), { market: 'India', country: 'IN' })
  t.same(marketOf('16505551234'), { market: 'North America', country: null })
  t.same(marketOf('18095551234'), { market: 'Rest of Latin America', country: 'DO' }, 'NANP area code listed by Meta')
  t.same(marketOf('18765551234'), { market: 'Rest of Latin America', country: 'JM' })
  t.same(marketOf('12425551234'), { market: 'Other', country: null }, 'Bahamas is not North America')
  t.same(marketOf('263771234567'), { market: 'Rest of Africa', country: 'ZW' }, 'Zimbabwe moved to Rest of Africa (Oct 2025)')
  t.same(marketOf('201001234567'), { market: 'Egypt', country: 'EG' })
  t.same(marketOf('212612345678'), { market: 'Rest of Africa', country: 'MA' })
  t.same(marketOf('306912345678'), { market: 'Rest of Central & Eastern Europe', country: 'GR' })
  t.same(marketOf('35312345678'), { market: 'Rest of Western Europe', country: 'IE' })
  t.same(marketOf('97412345678'), { market: 'Rest of Middle East', country: 'QA' })
  t.same(marketOf('9721234567'), { market: 'Israel', country: 'IL' })
  t.same(marketOf('79161234567'), { market: 'Russia', country: 'RU' })
  t.same(marketOf('3541234567'), { market: 'Other', country: null }, 'Iceland is not listed: Other')
  t.equal(marketOf('US.13491208655302741918'), undefined, 'a business-scoped user id has no market')
})

t.test('market names as rate cards and tier webhooks spell them', async (t) => {
  t.equal(normalizeMarket('Rest of Central & Eastern Europe'), 'Rest of Central & Eastern Europe')
  t.equal(normalizeMarket('rest of central and eastern europe'), 'Rest of Central & Eastern Europe')
  t.equal(normalizeMarket('INDIA'), 'India')
  t.equal(normalizeMarket('Atlantis'), undefined)
  t.equal(MARKETS.length, 32)
})

t.test('category spellings: hyphen, underscore, upper case', async (t) => {
  t.equal(normalizeCategory('authentication-international'), 'authentication_international')
  t.equal(normalizeCategory('authentication_international'), 'authentication_international')
  t.equal(normalizeCategory('AUTHENTICATION_INTERNATIONAL'), 'authentication_international')
  t.equal(normalizeCategory('UTILITY'), 'utility')
  t.equal(normalizeCategory('marketing_lite'), 'marketing_lite')
  t.equal(normalizeCategory('promo'), undefined)
  t.equal(normalizePricingType('FREE_CUSTOMER_SERVICE'), 'free_customer_service')
  t.equal(normalizePricingType('other'), undefined)
})
