// WeChat without its JS-SDK script (no external scripts at run time): WeChat's webview injects
// WeixinJSBridge itself. Where the server signs the page (jssdk-config answers 200) the bridge is
// verified as the JS-SDK would do, and the legacy menu events set the share card. Everything is
// best effort: the app never depends on it, and shows "tap ··· to share" guidance in WeChat.
export const inWeChat = (ua = (globalThis.navigator && navigator.userAgent) || '') => /MicroMessenger/i.test(ua);

function whenBridge(cb) {
  const w = globalThis.window;
  if (!w) return;
  if (w.WeixinJSBridge && w.WeixinJSBridge.invoke) return cb(w.WeixinJSBridge);
  document.addEventListener('WeixinJSBridgeReady', () => w.WeixinJSBridge && cb(w.WeixinJSBridge), { once: true });
}

export function setupWeChatShare({ getConfig, card, onShared }) {
  if (!inWeChat()) return;
  whenBridge(async (B) => {
    try {
      const cfg = await getConfig(location.href.split('#')[0]);
      B.invoke('preVerifyJSAPI', {
        verifyJsApiList: ['updateAppMessageShareData', 'updateTimelineShareData', 'onMenuShareAppMessage', 'onMenuShareTimeline'],
        verifyAppId: cfg.app_id,
        verifySignType: 'sha1',
        verifyTimestamp: String(cfg.timestamp),
        verifyNonceStr: cfg.nonce_str,
        verifySignature: cfg.signature,
      }, () => {});
    } catch {
      return; // not configured (404) or offline: the guidance text is all there is
    }
    const msg = { title: card.title, desc: card.desc, link: card.link, img_url: card.img, imgUrl: card.img };
    B.on('menu:share:appmessage', () => B.invoke('sendAppMessage', msg, () => onShared('wechat_friend')));
    B.on('menu:share:timeline', () => B.invoke('shareTimeline', msg, () => onShared('wechat_moments')));
  });
}
