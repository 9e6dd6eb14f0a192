import { registry } from "@web/core/registry";

/** The messaging menu (desktop): the WhatsApp filter lists the chat, the Channels filter does not. */
function messagingMenuSteps(name) {
    return [
        {
            content: "Open the messaging menu",
            trigger: ".o_menu_systray i[aria-label='Messages']",
            run: "click",
        },
        {
            trigger: ".o-mail-MessagingMenu-headerFilter:contains(Channels)",
            run: "click",
        },
        {
            trigger: ".o-mail-MessagingMenu-headerFilter.o-active:contains(Channels)",
        },
        {
            content: "Not a channel",
            trigger: `.o-mail-MessagingMenu:not(:has(.o-mail-NotificationItem:contains(${name})))`,
        },
        {
            content: "The WhatsApp filter, next to All / Chats / Channels",
            trigger: ".o-whatsapp-MessagingMenu-filter",
            run: "click",
        },
        {
            trigger: ".o-whatsapp-MessagingMenu-filter.o-active",
        },
        {
            content: "The WhatsApp chat is listed",
            trigger: `.o-mail-MessagingMenu .o-mail-NotificationItem:contains(${name})`,
        },
    ];
}

/** An operator receives a WhatsApp message in Discuss and answers it. */
registry.category("web_tour.tours").add("whatsapp_discuss_operator_tour", {
    steps: () => [
        {
            content: "The WhatsApp category lists the customer's chat",
            trigger: ".o-mail-DiscussSidebarCategory-whatsapp",
        },
        {
            content: "Open the chat",
            trigger: ".o-mail-DiscussSidebarChannel:contains(Ana)",
            run: "click",
        },
        {
            content: "The customer's message, with the WhatsApp mark",
            trigger: ".o-mail-Message:contains(Hello from WhatsApp) .o-whatsapp-CustomerMark",
        },
        {
            content: "The time left in the 24-hour window",
            trigger: ".o-whatsapp-WindowLeft:contains(left to answer)",
        },
        {
            trigger: ".o-mail-Composer-input",
            run: "edit Hi Ana, how can I help?",
        },
        {
            trigger: ".o-mail-Composer-send:enabled",
            run: "click",
        },
        {
            content: "The answer shows a WhatsApp status",
            trigger: ".o-mail-Message:contains(Hi Ana, how can I help?) .o-whatsapp-MessageStatus",
        },
        ...messagingMenuSteps("Ana"),
    ],
});

/** After 24 hours without a customer message: composer disabled, "Send a template" proposed. */
registry.category("web_tour.tours").add("whatsapp_discuss_window_closed_tour", {
    steps: () => [
        {
            trigger: ".o-mail-DiscussSidebarChannel:contains(Ana)",
            run: "click",
        },
        {
            content: "The reason and the template action replace the countdown",
            trigger: ".o-whatsapp-WindowClosed .o-whatsapp-SendTemplate",
        },
        {
            trigger: ".o-mail-Composer-input:disabled",
        },
        {
            trigger: ".o-whatsapp-SendTemplate",
            run: "click",
        },
        {
            content: "The template composer opens for the customer",
            trigger: ".modal .o_field_widget[name=template_id]",
        },
    ],
});

/** The user who sent a template finds the customer's answer in a WhatsApp chat. */
registry.category("web_tour.tours").add("whatsapp_discuss_answer_tour", {
    steps: () => [
        {
            content: "The chat opened for the sender, named after the customer (no number in the sidebar)",
            trigger: ".o-mail-DiscussSidebarChannel:contains(Tour Customer):not(:contains(+32))",
            run: "click",
        },
        {
            trigger: ".o-mail-Message:contains(Yes, I am interested)",
        },
        {
            content: "The chat says which template and record the customer answers, with a link to it",
            trigger: ".o-mail-NotificationMessage:contains(answers) a[href*='/odoo/res.partner/']:contains(Tour Customer)",
        },
    ],
});

/** A user sends a template from a contact's chatter (the customer answers it in the phone emulator). */
registry.category("web_tour.tours").add("whatsapp_discuss_send_template_tour", {
    steps: () => [
        {
            content: "Open the WhatsApp composer from the chatter",
            trigger: ".o-mail-Chatter-whatsapp",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=template_id] input",
            run: "edit Visit confirmation",
        },
        {
            trigger: ".o-autocomplete--dropdown-item a:contains(Visit confirmation)",
            run: "click",
        },
        {
            trigger: ".modal .o_whatsapp_composer_preview:contains(can we confirm your visit)",
        },
        {
            content: "Send",
            trigger: ".modal-footer button[name=action_send_whatsapp]",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
        {
            content: "The template is in the chatter",
            trigger: ".o-mail-Message-body:contains(can we confirm your visit)",
        },
    ],
});

/** Back in Odoo after the customer answered in the emulator: the chat is the sender's. */
registry.category("web_tour.tours").add("whatsapp_discuss_emulator_answer_tour", {
    steps: () => [
        {
            content: "The user is on the contact they sent the template to",
            trigger: ".o-mail-Chatter .o-mail-Message-body:contains(can we confirm your visit)",
        },
        ...messagingMenuSteps("Tour Customer"),
        {
            content: "Open the chat",
            trigger: ".o-mail-MessagingMenu .o-mail-NotificationItem:contains(Tour Customer)",
            run: "click",
        },
        {
            content: "The quick reply tapped on the phone",
            trigger: ".o-mail-Message:contains(Yes, confirmed) .o-whatsapp-CustomerMark",
        },
        {
            content: "The answer typed on the phone",
            trigger: ".o-mail-Message:contains(See you tomorrow at 10)",
        },
        {
            content: "The 24-hour window is open",
            trigger: ".o-whatsapp-WindowLeft:contains(left to answer)",
        },
    ],
});

/** A customer shared a contact: the card offers "Add to contacts", which opens the new contact. */
registry.category("web_tour.tours").add("whatsapp_discuss_contact_card_tour", {
    steps: () => [
        {
            trigger: ".o-mail-DiscussSidebarChannel:contains(Ana)",
            run: "click",
        },
        {
            content: "The shared contact, as a card",
            trigger: ".o-mail-Message .o_whatsapp_contact:contains(Luc Gómez)",
        },
        {
            trigger: ".o-mail-Message .o-whatsapp-AddContact",
            run: "click",
        },
        {
            content: "The new contact opens",
            trigger: ".o_form_view .o_field_widget[name=name] input:value(Luc Gómez)",
        },
    ],
});
