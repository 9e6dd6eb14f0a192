import { registry } from "@web/core/registry";

/**
 * Statuses flowing while a user looks: the test hands the page Meta's signed status webhooks
 * (``window.whatsappLiveStatuses``: delivered, then read) and applies them from a thread as the applier
 * cron does; each tick must move without reloading the page (the globals would be gone).
 */
async function postStatus(index) {
    const { body, signature } = window.whatsappLiveStatuses[index];
    const response = await fetch("/whatsapp/webhook", {
        method: "POST",
        body,
        headers: { "Content-Type": "application/json", "X-Hub-Signature-256": signature },
    });
    if (!response.ok) {
        throw new Error(`the webhook answered ${response.status}`);
    }
}

function liveTickSteps(scope) {
    const tick = (status) => `${scope} .o-whatsapp-MessageStatus[data-status='${status}']`;
    return [
        {
            content: "The message shows its sent tick",
            trigger: tick("sent"),
        },
        {
            content: "Meta reports it delivered",
            trigger: tick("sent"),
            run: () => postStatus(0),
        },
        {
            content: "The tick moves to delivered, live",
            trigger: tick("delivered"),
        },
        {
            content: "Meta reports it read",
            trigger: tick("delivered"),
            run: () => postStatus(1),
        },
        {
            content: "The tick moves to read, live",
            trigger: tick("read"),
        },
    ];
}

registry.category("web_tour.tours").add("whatsapp_status_live_chatter_tour", {
    steps: () => liveTickSteps(".o-mail-Chatter .o-mail-Message:contains(your order is ready)"),
});

registry.category("web_tour.tours").add("whatsapp_status_live_discuss_tour", {
    steps: () => [
        {
            content: "Open the customer's chat",
            trigger: ".o-mail-DiscussSidebarChannel:contains(Ana)",
            run: "click",
        },
        ...liveTickSteps(".o-mail-Message:contains(Your parcel left)"),
    ],
});
